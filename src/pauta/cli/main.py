"""``pauta`` commands. Heavy modules are imported inside commands so ``pauta --help`` is quick."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from pauta.cli.common import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    build_capacity,
    capacity_options,
    fail,
    open_store,
    parse_params,
    print_json,
    user_errors,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pauta")
def main() -> None:
    """pauta: dynamic, durable workflows for machine-learning pipelines."""


def _drive(action: Any, *, as_json: bool, quiet: bool) -> None:
    """Run ``action(on_start)`` with live progress; exit with the run's outcome."""
    from rich.console import Console

    from pauta.cli.progress import LiveProgress, print_summary

    console = Console(stderr=True)
    live = LiveProgress(console) if console.is_terminal and not quiet and not as_json else None
    drivers: list[Any] = []

    def on_start(driver: Any) -> None:
        drivers.append(driver)
        if live is not None:
            live.attach(driver)

    started = time.perf_counter()
    try:
        with user_errors():
            run = action(on_start)
    finally:
        if live is not None:
            live.close()
    elapsed = time.perf_counter() - started
    if as_json:
        from pauta.app.runs import show_run

        print_json(show_run(open_store(), run.id))
    elif not quiet:
        print_summary(console, run, drivers[0] if drivers else None, elapsed)
    sys.exit(EXIT_OK if run.state == "SUCCEEDED" else EXIT_RUN_FAILED)


@main.command()
@click.argument("target", metavar="FILE[:FLOW]")
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
    "--executor", type=click.Choice(["local", "inline"]), help="Where tasks run by default."
)
@click.option(
    "--workers", type=int, help="Warm worker processes (default: one per cpu of capacity)."
)
@click.option("--no-cache", is_flag=True, help="Run every task, even if a cached result exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON only.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary; only the exit code.")
@capacity_options
def run(
    target: str,
    params: tuple[str, ...],
    params_file: str | None,
    executor: str | None,
    workers: int | None,
    no_cache: bool,
    as_json: bool,
    quiet: bool,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Run a flow once, showing live progress; the exit code is the outcome (0 succeeded)."""
    from pauta.core.settings import Settings
    from pauta.dispatch.capacity import detect_capacity

    from_file, strings = parse_params(params, params_file)
    capacity = build_capacity(cpus, memory, gpus, resources) or detect_capacity()
    settings = Settings.from_env()
    # Warm the worker pool first: the processes start while this one imports the store and
    # validates parameters, which roughly halves the wall time of a short run.
    started = (
        {} if executor == "inline" else {"local": start_local_pool(settings, capacity, workers)}
    )

    from pauta.app.flows import resolve_flow
    from pauta.engine.runner import Runner

    with user_errors():
        flow = resolve_flow(target)
        values = flow.parameters.validate(from_file) if from_file else {}
        typed = flow.parameters.validate({**from_file, **strings}, from_strings=True)
        values.update(typed)
    runner = Runner(
        settings,
        capacity=capacity,
        workers=workers,
        default_executor=executor,
        started=started,
        no_cache=no_cache,
    )
    try:
        _drive(
            lambda on_start: runner.run(flow, values, on_start=on_start),
            as_json=as_json,
            quiet=quiet,
        )
    finally:
        runner.close()


def start_local_pool(settings: Any, capacity: Any, workers: int | None) -> tuple[Any, Any]:
    """A started local executor and the wakeup to bind to the engine that will own it."""
    from pauta.dispatch.capacity import default_workers
    from pauta.executors.base import LateWakeup
    from pauta.executors.local import LocalExecutor

    settings.ensure_home()
    settings.export_home()
    pool = LocalExecutor(
        workers=workers or default_workers(capacity),
        results_url=settings.results_url,
        inline_max=settings.inline_result_max,
    )
    wakeup = LateWakeup()
    pool.start(wakeup)
    return pool, wakeup


@main.group()
def runs() -> None:
    """List, inspect and resume flow runs."""


@runs.command("list")
@click.option("--flow", help="Only runs of this flow.")
@click.option("--state", help="Only runs in this state (e.g. FAILED).")
@click.option("--limit", type=int, default=100, show_default=True, help="0 lists all.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, newest first.")
def runs_list(flow: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Runs, newest first."""
    from pauta.app.runs import run_view

    if limit < 0:
        fail("--limit must be 0 (all) or more")
    if state is not None:
        from pauta.core.states import FlowRunState

        if state.upper() not in FlowRunState.__members__:
            fail(f"unknown state {state!r}; use one of {', '.join(FlowRunState)}")
        state = state.upper()
    with user_errors():
        records = open_store().list_flow_runs(flow=flow, state=state, limit=limit)
    views = [run_view(r) for r in records]
    if as_json:
        print_json(views)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from pauta.cli.progress import STYLES

    table = Table(box=None, pad_edge=False)
    for column in ("id", "flow", "state", "trigger", "started", "duration"):
        table.add_column(column)
    for view in views:
        duration = view["duration"]
        table.add_row(
            view["id"],
            view["flow"],
            Text(view["state"], style=STYLES.get(view["state"], "")),
            view["trigger"],
            (view["started_at"] or "")[:19].replace("T", " "),
            f"{duration:.2f}s" if duration is not None else "",
        )
    Console().print(table if views else "no runs yet: start one with `pauta run FILE`")


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runs_show(run_id: str, as_json: bool) -> None:
    """A run's tasks, states, attempts, durations, result previews and metrics."""
    from pauta.app.runs import show_run

    with user_errors():
        view = show_run(open_store(), run_id)
    if as_json:
        print_json(view)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from pauta.cli.progress import STYLES

    console = Console()
    state = view["state"]
    header = Text(f"run {view['id']} · {view['flow']} · ")
    header.append(state, style=STYLES.get(state, ""))
    header.append(f" · trigger {view['trigger']} · params {view['params']}")
    console.print(header)
    table = Table(box=None, pad_edge=False)
    for column in ("task", "state", "attempts", "duration", "result / error", "metrics"):
        table.add_column(column, overflow="fold")
    for task in view["tasks"]:
        detail = ""
        if task["error"]:
            detail = f"{task['error'].get('type')}: {task['error'].get('message')}"
        elif task["result"]:
            detail = task["result"]["preview"]
        if task["cached_from"]:
            detail = f"{detail} (cached from {task['cached_from']})"
        metrics = ", ".join(f"{m['name']}={m['value']:g}" for m in task["metrics"])
        duration = task["duration"]
        table.add_row(
            task["key"],
            Text(task["state"], style=STYLES.get(task["state"], "")),
            str(task["attempts"]),
            f"{duration:.2f}s" if duration is not None else "",
            detail,
            metrics,
        )
    console.print(table)
    for task in view["tasks"]:
        for artifact in task["artifacts"]:
            console.print(
                f"artifact {task['key']} · {artifact['name']}: {artifact['preview']} "
                f"→ {artifact['uri']}"
            )
    if view["error"]:
        console.print(
            Text(f"{view['error'].get('type')}: {view['error'].get('message')}", style="red")
        )
    if view["result_preview"] is not None:
        console.print(f"result: {view['result_preview']}")


@runs.command("resume")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Take over even while another driver holds the run.")
@click.option(
    "--allow-changes",
    is_flag=True,
    help="Replay changed flow code, re-running from the first difference.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON only.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
@capacity_options
def runs_resume(
    run_id: str,
    force: bool,
    allow_changes: bool,
    as_json: bool,
    quiet: bool,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Replay a run whose driver died (or that failed): finished tasks are not run again."""
    from pauta.engine.runner import Runner

    runner = Runner(capacity=build_capacity(cpus, memory, gpus, resources))
    try:
        _drive(
            lambda on_start: runner.resume(
                run_id, force=force, allow_changes=allow_changes, on_start=on_start
            ),
            as_json=as_json,
            quiet=quiet,
        )
    finally:
        runner.close()


@runs.command("cancel")
@click.argument("run_id")
@click.option("--wait/--no-wait", default=True, help="Wait until the run has stopped.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait.")
def runs_cancel(run_id: str, wait: bool, timeout: float) -> None:
    """Cancel a run: its running tasks are killed and the rest never start."""
    from pauta.core.clock import get_clock
    from pauta.core.states import FLOW_TERMINAL

    store = open_store()
    clock = get_clock()
    with user_errors():
        run = store.request_cancel(run_id, clock.now())
    deadline = clock.monotonic() + timeout
    while wait and run.state not in FLOW_TERMINAL and clock.monotonic() < deadline:
        time.sleep(0.2)
        run = store.get_flow_run(run.id)
    if run.state in FLOW_TERMINAL:
        click.echo(f"run {run.id} {run.state}")
    else:
        click.echo(f"run {run.id}: cancel requested; its driver stops it within a few seconds")


@main.command()
@click.argument("run_id")
@click.argument("task", required=False)
def logs(run_id: str, task: str | None) -> None:
    """Print a run's task logs (captured stdout, stderr and log lines); TASK is a key or name."""
    from pauta.app.runs import log_files
    from pauta.core.settings import Settings

    with user_errors():
        files = log_files(open_store(), Settings.from_env().logs_dir, run_id, task)
    if not files:
        click.echo("no log output was captured for this run", err=True)
        return
    for log in files:
        click.echo(click.style(f"── {log.key} · attempt {log.attempt} ──", bold=True))
        try:
            click.echo(log.path.read_text(errors="replace"), nl=False)
        except FileNotFoundError:
            click.echo("(log removed)")


@main.group()
def db() -> None:
    """The metadata database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (they also run automatically on first use)."""
    from pauta.core.settings import Settings
    from pauta.store.migrations import upgrade

    settings = Settings.from_env()
    settings.ensure_home()
    with user_errors():
        upgrade(settings.database_url)
    click.echo(f"database at head: {settings.database_url}")


@main.group()
def pools() -> None:
    """Named pools cap how many tasks of a kind run at once (e.g. a database's connections)."""


@pools.command("set")
@click.argument("name")
@click.argument("slots", type=int)
def pools_set(name: str, slots: int) -> None:
    """Create or resize a pool; tasks take `pool_slots` of it (`@task(pool="db")`)."""
    if slots < 0:
        fail("SLOTS must be 0 or more (0 holds the pool's tasks back)")
    with user_errors():
        open_store().set_pool(name, slots)
    click.echo(f"pool {name}: {slots} slots")


@pools.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def pools_list(as_json: bool) -> None:
    """Pools and their slots."""
    with user_errors():
        found = open_store().list_pools()
    if as_json:
        print_json([{"name": name, "slots": slots} for name, slots in sorted(found.items())])
        return
    if not found:
        click.echo("no pools; create one with `pauta pools set NAME SLOTS`")
    for name, slots in sorted(found.items()):
        click.echo(f"{name}\t{slots}")


# flows ----------------------------------------------------------------------------------------


def _flows_option(fn: Any) -> Any:
    return click.option(
        "--flows",
        "flows_dir",
        type=click.Path(file_okay=False),
        help="The folder flows are discovered in (default: $PAUTA_FLOWS, else ./flows).",
    )(fn)


@main.group()
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


def _flow_view(info: Any, paused: bool) -> dict[str, Any]:
    return {**info.to_dict(), "next_run": None, "paused": paused, "error": None}


def _load_error_view(error: Any) -> dict[str, Any]:
    """A file that failed, with the keys of a flow (null) so every array item has one shape."""
    import dataclasses

    from pauta.scheduling.discovery import FlowInfo

    keys = [f.name for f in dataclasses.fields(FlowInfo)] + ["next_run", "paused"]
    view = dict.fromkeys(keys)
    view.update(file=str(error.file), line=error.line, error=error.to_dict())
    return view


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
    max_active_runs, next_run, paused and error (null); a file that failed is an object with the
    same keys, all null except file, line and error ({"type", "message", "line"}).
    """
    found, _, paused = _discover_flows(flows_dir)
    if as_json:
        views = [_flow_view(info, paused.get(name, False)) for name, info in found.flows.items()]
        print_json(views + [_load_error_view(error) for error in found.errors])
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console()
        if found.flows:
            table = Table(box=None, pad_edge=False)
            for column in ("name", "schedule", "next run", "paused", "file"):
                table.add_column(column)
            for name, info in found.flows.items():
                table.add_row(
                    Text(name),
                    Text(info.schedule or "-"),
                    "-",
                    "yes" if paused.get(name) else "no",
                    Text(_shown_path(info.file, info.line)),
                )
            console.print(table)
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
    """A flow's description, schedule, paused state and parameters (name, type, default)."""
    found, _, paused = _discover_flows(flows_dir)
    info = found.flows.get(name)
    if info is None:
        _unknown_flow(name, found)
        return
    view = _flow_view(info, paused.get(name, False))
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
    console.print("next run: -")
    console.print(f"paused: {'yes' if view['paused'] else 'no'}")
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
