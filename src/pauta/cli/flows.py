"""`pauta flows ...`: the flows found in the flows folder."""

from __future__ import annotations

import sys
from typing import Any

import click

from pauta.cli.common import (
    EXIT_RUN_FAILED,
    fail,
    open_store,
    print_json,
    user_errors,
)


def _flows_option(fn: Any) -> Any:
    return click.option(
        "--flows",
        "flows_dir",
        type=click.Path(file_okay=False),
        help="The folder flows are discovered in (default: $PAUTA_FLOWS, else ./flows).",
    )(fn)


@click.group()
def flows() -> None:
    """Flows found in the flows folder: ./flows, $PAUTA_FLOWS or --flows DIR.

    Each file is imported in its own process with a timeout; a file that fails is listed as a
    load error and the other files' flows still work.
    """


def _discover_flows(flows_dir: str | None) -> tuple[Any, Any, dict[str, bool]]:
    """Discover the flows, record them in the store; (discovery, store, paused by flow name)."""
    from pathlib import Path

    from pauta.scheduling.discovery import discover, flows_folder, sync_to_store

    with user_errors():
        found = discover(Path(flows_dir) if flows_dir else flows_folder())
        store = open_store()
        sync_to_store(found, store)
        paused = {row["name"]: bool(row["paused"]) for row in store.list_flows()}
    return found, store, paused


def _next_run(info: Any, now: Any) -> str | None:
    from pauta.app.catalog import next_run

    return next_run(info, now)


def _flow_view(info: Any, paused: bool, now: Any) -> dict[str, Any]:
    from pauta.app.catalog import flow_view

    return flow_view(info, paused, now)


def _load_error_view(error: Any) -> dict[str, Any]:
    from pauta.app.catalog import load_error_view

    return load_error_view(error)


def _shown_path(path: Any, line: int | None = None) -> str:
    from pathlib import Path

    try:
        text = str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        text = str(path)
    return f"{text}:{line}" if line else text


def _unknown_flow(name: str, found: Any) -> None:
    import difflib

    close = difflib.get_close_matches(name, list(found.flows), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    fail(
        f"no flow named {name!r} in {found.folder}; {hint}run `pauta flows list` to see the "
        "flows found there and the files that failed to load"
    )


@flows.command("list")
@_flows_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array: one object per flow (by name), then one per file that failed "
    "to load (same keys, null but file, line and error).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when a file failed to load.")
def flows_list(flows_dir: str | None, as_json: bool, strict: bool) -> None:
    """Flows, their schedules, next run and paused state; then the files that failed to load.

    Load errors are reported as data: the exit code is 0 unless --strict is given and a file
    failed. With --json, each flow is an object with name, qualname, file, line, description,
    schedule, timezone, tags, parameters, parameters_schema, start, end, catchup,
    max_active_runs, deadline (null, or within in seconds, after and cancel), next_run,
    next_run_error (why a schedule cannot tick, else null), paused and error (null); a file
    that failed is an object with the same keys, all null except file, line and error
    ({"type", "message", "line"}).
    """
    found, store, paused = _discover_flows(flows_dir)
    now = store.clock.now()
    if as_json:
        views = [
            _flow_view(info, paused.get(name, False), now) for name, info in found.flows.items()
        ]
        print_json(views + [_load_error_view(error) for error in found.errors])
    else:
        from rich.console import Console
        from rich.text import Text

        from pauta.cli import tables
        from pauta.cli.tables import Column, Fit

        console = Console()
        if found.flows:
            rows = [
                (
                    Text(name),
                    Text(info.schedule or "-"),
                    (_next_run(info, now) or "-")[:19].replace("T", " "),
                    "yes" if paused.get(name) else "no",
                    Text(_shown_path(info.file, info.line)),
                )
                for name, info in found.flows.items()
            ]
            columns = (
                Column("name"),
                Column("schedule", Fit.WRAP),
                Column("next run"),
                Column("paused"),
                Column("file", Fit.WRAP),
            )
            console.print(tables.build(columns, rows), crop=False)
        elif not found.errors:
            click.echo(f"no flows in {found.folder}: add a file there that defines an @flow")
        if found.errors:
            count = len(found.errors)
            blank = "\n" if found.flows else ""
            click.echo(f"{blank}{count} file{'s' if count > 1 else ''} failed to load:")
            for error in found.errors:
                click.echo(f"{_shown_path(error.file, error.line)}: {error.message}")
    if strict and found.errors:
        sys.exit(EXIT_RUN_FAILED)


@flows.command("show")
@click.argument("name")
@_flows_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def flows_show(name: str, flows_dir: str | None, as_json: bool) -> None:
    """A flow's description, schedule, paused state, deadline (and how many of its last 20 runs
    missed it) and parameters (name, type, default)."""
    found, store, paused = _discover_flows(flows_dir)
    info = found.flows.get(name)
    if info is None:
        _unknown_flow(name, found)
        return
    view = _flow_view(info, paused.get(name, False), store.clock.now())
    from pauta.app.catalog import deadline_view

    view["deadline_misses"] = misses = deadline_view(store, info)
    if as_json:
        print_json(view)
        return
    import json

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print(Text(f"flow {info.name} · {_shown_path(info.file, info.line)}", style="bold"))
    if info.description:
        console.print(Text(info.description))
    schedule = f"{info.schedule} ({info.timezone})" if info.schedule else "none"
    console.print(f"schedule: {schedule}", markup=False)
    console.print(f"next run: {view['next_run'] or '-'}")
    if view["next_run_error"]:
        console.print(Text(f"schedule error: {view['next_run_error']}", style="red"))
    console.print(f"paused: {'yes' if view['paused'] else 'no'}")
    if misses is not None:
        console.print(Text(f"deadline: {misses['text']} · {misses['summary']}"))
    if info.tags:
        console.print(Text(f"tags: {', '.join(info.tags)}"))
    if not info.parameters:
        console.print("parameters: none")
        return
    table = Table(box=None, pad_edge=False, title="parameters", title_justify="left")
    for column in ("name", "type", "default", "required"):
        table.add_column(column)
    for param in info.parameters:
        default = "-" if param.required else json.dumps(param.default)
        table.add_row(
            Text(param.name), Text(param.type), Text(default), "yes" if param.required else "no"
        )
    console.print(table)


def _set_paused(name: str, flows_dir: str | None, paused: bool) -> None:
    found, store, known = _discover_flows(flows_dir)
    if name not in known:
        _unknown_flow(name, found)
    with user_errors():
        store.set_paused(name, paused)
    if paused:
        click.echo(f"flow {name} paused; `pauta flows unpause {name}` resumes it")
    else:
        click.echo(f"flow {name} unpaused")


@flows.command("pause")
@click.argument("name")
@_flows_option
def flows_pause(name: str, flows_dir: str | None) -> None:
    """Pause a flow's schedule: it creates no scheduled runs until the flow is unpaused."""
    _set_paused(name, flows_dir, True)


@flows.command("unpause")
@click.argument("name")
@_flows_option
def flows_unpause(name: str, flows_dir: str | None) -> None:
    """Unpause a flow: its schedule creates runs again."""
    _set_paused(name, flows_dir, False)
