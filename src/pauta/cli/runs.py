"""`pauta runs ...` and `pauta logs`: inspect, resume and cancel runs."""

from __future__ import annotations

import time

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    executor_options,
    executor_settings,
    fail,
    open_store,
    print_json,
    user_errors,
)
from pauta.cli.driving import drive_with_progress


@click.group()
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
        records = open_store().list_flow_runs(
            flow=flow, state=state, limit=limit, inline_results=False
        )
    views = [run_view(r) for r in records]
    if as_json:
        print_json(views)
        return
    from rich.console import Console
    from rich.text import Text

    from pauta.cli import tables
    from pauta.cli.summary import STYLES
    from pauta.cli.tables import Column, Fit

    rows = []
    for view in views:
        duration = view["duration"]
        rows.append(
            (
                view["id"],
                view["flow"],
                Text(view["state"], style=STYLES.get(view["state"], "")),
                view["trigger"],
                (view["started_at"] or "")[:19].replace("T", " "),
                f"{duration:.2f}s" if duration is not None else "",
            )
        )
    columns = (
        Column("id"),
        Column("flow", Fit.WRAP),
        Column("state"),
        Column("trigger"),
        Column("started"),
        Column("duration", justify="right"),
    )
    table = tables.build(columns, rows)
    Console().print(table if views else "no runs yet: start one with `pauta run FILE`", crop=False)


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
    from rich.text import Text

    from pauta.cli import tables
    from pauta.cli.summary import STYLES
    from pauta.cli.tables import Column, Fit

    console = Console()
    state = view["state"]
    header = Text(f"run {view['id']} · {view['flow']} · ")
    header.append(state, style=STYLES.get(state, ""))
    header.append(f" · trigger {view['trigger']} · params {view['params']}")
    console.print(header)
    rows = []
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
        rows.append(
            (
                task["label"] or task["key"],
                Text(task["state"], style=STYLES.get(task["state"], "")),
                str(task["attempts"]),
                f"{duration:.2f}s" if duration is not None else "",
                detail,
                metrics,
            )
        )
    columns = (
        Column("task"),
        Column("state"),
        Column("attempts", justify="right"),
        Column("duration", justify="right"),
        # the whole preview or error, wrapped: `runs show` is where it is read in full
        Column("result / error", Fit.WRAP),
        Column("metrics", Fit.WRAP),
    )
    if not any(task["metrics"] for task in view["tasks"]):
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    table = tables.build(columns, rows)
    console.print(table, crop=False)
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


@runs.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def runs_compare(run_a: str, run_b: str, as_json: bool) -> None:
    """Two runs of one flow side by side: parameters, metrics (by task label) and durations.

    Rows that differ are marked with *; Δ is B - A."""
    from pauta.app.compare import compare_runs

    with user_errors():
        found = compare_runs(open_store(), run_a, run_b)
    if as_json:
        print_json(found)
        return
    from pauta.cli.comparing import print_comparison

    print_comparison(found)


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
@executor_options
@capacity_options
def runs_resume(
    run_id: str,
    force: bool,
    allow_changes: bool,
    as_json: bool,
    quiet: bool,
    executor: str | None,
    ray_address: str | None,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Replay a run whose driver died (or that failed): finished tasks are not run again."""
    from pauta.engine.runner import Runner

    settings = executor_settings(executor, ray_address)
    runner = Runner(
        settings,
        capacity=build_capacity(cpus, memory, gpus, resources),
        default_executor=executor,
        light_store=True,
    )
    try:
        drive_with_progress(
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
    from pauta.app.runs import cancel_run
    from pauta.core.clock import get_clock
    from pauta.core.states import FLOW_TERMINAL

    store = open_store()
    clock = get_clock()
    with user_errors():
        run = cancel_run(store, run_id)
    deadline = clock.monotonic() + timeout
    while wait and run.state not in FLOW_TERMINAL and clock.monotonic() < deadline:
        time.sleep(0.2)
        run = store.get_flow_run(run.id)
    if run.state in FLOW_TERMINAL:
        click.echo(f"run {run.id} {run.state}")
    else:
        click.echo(f"run {run.id}: cancel requested; its driver stops it within a few seconds")


@click.command()
@click.argument("run_id")
@click.argument("task", required=False)
def logs(run_id: str, task: str | None) -> None:
    """Print a run's logs: what its flow body printed or logged (the "flow" section), then each
    task attempt's captured stdout, stderr and log lines; TASK (a key or name) shows only that
    task's."""
    from pauta.app.logs import MAX_LIMIT, read_flow_log
    from pauta.app.runs import attempt_logs
    from pauta.core.settings import Settings
    from pauta.core.states import TASK_ACTIVE

    store, logs_dir = open_store(), Settings.from_env().logs_dir
    with user_errors():
        attempts = attempt_logs(store, logs_dir, run_id, task)
        flow_log = None if task else read_flow_log(store, logs_dir, run_id, limit=MAX_LIMIT)
    if flow_log and flow_log["size"]:
        click.echo(click.style("── flow ──", bold=True))
        text = flow_log["text"]
        click.echo(text, nl=not text or not text.endswith("\n"))
        if flow_log["more"]:
            click.echo(f"(the flow log holds {flow_log['size']} bytes; the first are shown)")
    elif not attempts:
        click.echo("no log output was captured for this run", err=True)
        return
    for log in attempts:
        click.echo(click.style(f"── {log.key} · attempt {log.attempt} ──", bold=True))
        if log.path is None:
            click.echo("(no output)")
            continue
        try:
            click.echo(log.path.read_text(errors="replace"), nl=False)
        except FileNotFoundError:
            # an attempt that ended with output has a log; a missing one was deleted
            click.echo("(no output yet)" if log.state in TASK_ACTIVE else "(log removed)")


def _add_steering() -> None:
    from pauta.cli.steering import runs_clear, runs_mark_success

    runs.add_command(runs_mark_success)
    runs.add_command(runs_clear)


_add_steering()
