"""`pauta trigger` (queue a run) and `pauta worker` (claim and drive queued runs)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    fail,
    open_store,
    parse_params,
    print_json,
    user_errors,
)


def _flow_for(target: str, flows_dir: str | None) -> Any:
    """A flow from ``FILE[:FLOW]``, or by name from the flows folder."""
    from pauta.app.flows import resolve_flow, split_target

    path, _ = split_target(target)
    if path.endswith(".py") or Path(path).is_file():
        return resolve_flow(target)
    from pauta.scheduling.discovery import discover, flows_folder

    found = discover(Path(flows_dir) if flows_dir else flows_folder())
    info = found.flows.get(target)
    if info is None:
        known = ", ".join(found.flows) or "none"
        fail(
            f"no flow named {target!r} in {found.folder} (flows there: {known}); "
            "see `pauta flows list`"
        )
    return resolve_flow(f"{info.file}:{info.name}")


@click.command()
@click.argument("target", metavar="FLOW | FILE[:FLOW]")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A flow parameter (repeatable).",
)
@click.option("--params-file", type=click.Path(dir_okay=False), help="A JSON object of parameters.")
@click.option(
    "--flows", "flows_dir", type=click.Path(file_okay=False), help="Where to find FLOW by name."
)
@click.option("--json", "as_json", is_flag=True, help="Print the queued run as JSON.")
def trigger(
    target: str,
    params: tuple[str, ...],
    params_file: str | None,
    flows_dir: str | None,
    as_json: bool,
) -> None:
    """Queue a run of a flow for a worker (`pauta worker` or `pauta server`) to run."""
    from pauta.app.runs import run_view
    from pauta.app.triggering import queue_run, validate_params

    from_file, strings = parse_params(params, params_file)
    with user_errors():
        flow = _flow_for(target, flows_dir)
        values = validate_params(flow, from_file, strings)
        record = queue_run(open_store(), flow, values, trigger="manual")
    if as_json:
        print_json(run_view(record))
    else:
        click.echo(record.id)


@click.command()
@click.option("--max-runs", type=int, default=4, show_default=True, help="Runs driven at once.")
@click.option(
    "--poll", type=float, default=1.0, show_default=True, help="Seconds between looks for work."
)
@click.option(
    "--workers", type=int, help="Warm worker processes (default: one per cpu of capacity)."
)
@capacity_options
def worker(
    max_runs: int,
    poll: float,
    workers: int | None,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Claim queued runs and drive them until stopped.

    Also resumes runs whose driver stopped renewing its lease. The first Ctrl-C (or SIGTERM)
    stops claiming and waits for the runs in progress; a second one exits at once, and those
    runs are resumed by another worker once their lease expires.
    """
    from pauta.engine.runner import Runner
    from pauta.scheduling.worker import Worker

    if max_runs < 1:
        fail("--max-runs must be at least 1")
    runner = Runner(capacity=build_capacity(cpus, memory, gpus, resources), workers=workers)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            # "stop at once": see `pauta server`; the runs are resumed elsewhere later
            click.echo("pauta worker: stopped", err=True)
            os._exit(130)
        click.echo("pauta worker: finishing the runs in progress (again to stop now)", err=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with user_errors():
        runner.engine()
    _remove_dead_workers_containers()
    click.echo(f"pauta worker: waiting for runs ({runner.settings.database_url})", err=True)
    try:
        Worker(runner, max_runs=max_runs, poll_interval=poll).run_until(stop)
    finally:
        runner.close()


def _remove_dead_workers_containers() -> None:
    """Remove the containers of container tasks whose pauta process on this host died (a
    worker killed mid-task), before this worker takes runs; nothing where there is no CLI."""
    import shutil

    from pauta.executors.container_cli import container_cli, remove_orphans

    cli = container_cli()
    if shutil.which(cli[0]) is None:
        return
    removed = remove_orphans(cli)
    if removed:
        click.echo(
            f"pauta worker: removed {len(removed)} container(s) of dead workers: "
            + ", ".join(removed),
            err=True,
        )
