"""What every command shares: exit codes, error reporting, the store, parameter parsing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from pauta.core.errors import PautaError
from pauta.core.settings import Settings

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn pauta's errors into a one-line message and exit code 2 (bad usage or input),
    with the command that helps next where there is one."""
    try:
        yield
    except PautaError as exc:
        fail(with_hint(exc))


def with_hint(exc: PautaError) -> str:
    """The error's message, followed by the command that helps next (the layers below the CLI
    say what is wrong; only the CLI knows its own commands)."""
    from pauta.core.errors import (
        AmbiguousRunIdError,
        FlowNotFoundError,
        RunNotFoundError,
        UnknownUserError,
    )

    hints: list[tuple[type[PautaError], str | None]] = [
        (AmbiguousRunIdError, None),
        (RunNotFoundError, "list runs with `pauta runs list`"),
        (UnknownUserError, "create it first with `pauta users create`"),
        (FlowNotFoundError, "check the name with `pauta flows list`"),
    ]
    for kind, hint in hints:
        if isinstance(exc, kind):
            return f"{exc}; {hint}" if hint else str(exc)
    return str(exc)


def open_store() -> Any:
    from pauta.store.repository import Store

    settings = Settings.from_env()
    settings.ensure_home()
    return Store.from_settings(settings)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def parse_params(
    pairs: tuple[str, ...], params_file: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(typed values from --params-file, strings from --param k=v)."""
    from_file: dict[str, Any] = {}
    if params_file:
        try:
            loaded = json.loads(Path(params_file).read_text())
        except OSError as exc:
            fail(f"cannot read --params-file {params_file}: {exc.strerror}")
        except ValueError as exc:
            fail(f"--params-file {params_file} is not valid JSON: {exc}")
        if not isinstance(loaded, dict):
            fail(f"--params-file {params_file} must hold a JSON object of name: value")
        from_file = loaded
    strings: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--param {pair!r} must look like name=value")
        strings[name.strip()] = value
    return from_file, strings


def params_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--param/-p NAME=VALUE (repeatable) and --params-file: a flow's parameters, as
    ``parse_params`` reads them (`pauta run`, `pauta trigger`)."""
    fn = click.option(
        "--params-file", type=click.Path(dir_okay=False), help="A JSON object of parameters."
    )(fn)
    return click.option(
        "--param",
        "-p",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="A flow parameter (repeatable).",
    )(fn)


def executor_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--executor NAME and --ray-address ADDR: where tasks run by default."""
    fn = click.option(
        "--ray-address",
        metavar="ADDR",
        help="The Ray cluster of --executor ray (default: PAUTA_RAY_ADDRESS, else Ray's own).",
    )(fn)
    return click.option(
        "--executor",
        metavar="NAME",
        help="Where tasks run by default: local (warm processes), inline, ray (a Ray "
        "cluster), or a plugin's executor.",
    )(fn)


def executor_settings(executor: str | None, ray_address: str | None) -> Settings:
    """The settings from the environment, with --ray-address; an unknown --executor is a
    usage error here, before anything runs."""
    import dataclasses

    if executor is not None:
        from pauta.executors.registry import default_registry

        with user_errors():
            default_registry().spec(executor)
    settings = Settings.from_env()
    if ray_address:
        settings = dataclasses.replace(settings, ray_address=ray_address)
    return settings


def capacity_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--cpus/--memory/--gpus/--resource: declare what this process may use."""
    for option in reversed(
        [
            click.option("--cpus", type=float, help="CPUs tasks may use at once (default: cores)."),
            click.option(
                "--memory", help="Memory tasks may use at once, e.g. 32GiB (default: RAM)."
            ),
            click.option("--gpus", type=int, help="GPUs tasks may use (default: detected)."),
            click.option(
                "--resource",
                "resources",
                multiple=True,
                metavar="NAME=AMOUNT",
                help="A custom resource, e.g. db_conn=4 (repeatable).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def build_capacity(
    cpus: float | None, memory: str | None, gpus: int | None, resources: tuple[str, ...]
) -> Any:
    if cpus is None and memory is None and gpus is None and not resources:
        return None
    from pauta.dispatch.capacity import parse_capacity

    try:
        return parse_capacity(cpus=cpus, memory=memory, gpus=gpus, resources=list(resources))
    except ValueError as exc:
        fail(str(exc))
