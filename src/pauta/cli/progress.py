"""Live progress of a run in the terminal, and the summary printed when it ends."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from pauta.cli import tables
from pauta.cli.tables import Column, Fit
from pauta.core.states import State

if TYPE_CHECKING:
    from pauta.engine.calls import TaskCall
    from pauta.engine.replay import RunDriver
    from pauta.engine.runs import FlowRun

STYLES = {
    "PENDING": "dim",
    "QUEUED": "cyan",
    "RUNNING": "bold blue",
    "RETRYING": "yellow",
    "WAITING": "magenta",
    "SUCCEEDED": "green",
    "CACHED": "green",
    "FAILED": "bold red",
    "UPSTREAM_FAILED": "red",
    "SKIPPED": "dim",
    "CANCELLED": "yellow",
}
MAX_ROWS = 25


def _seconds(start: datetime | None, end: datetime | None, now: datetime) -> str:
    if start is None:
        return ""
    return f"{((end or now) - start).total_seconds():.2f}s"


def _rows(calls: list[TaskCall]) -> list[TaskCall]:
    """What fits on a screen: every active or failed call first, then the latest others."""
    if len(calls) <= MAX_ROWS:
        return calls
    important = [c for c in calls if c.state not in (State.SUCCEEDED, State.CACHED, State.PENDING)]
    rest = [c for c in calls if c not in important][-max(MAX_ROWS - len(important), 0) :]
    chosen = set(map(id, important[:MAX_ROWS] + rest))
    return [c for c in calls if id(c) in chosen]


def task_table(calls: list[TaskCall], now: datetime, title: str) -> tables.Fitted:
    rows = []
    for call in _rows(calls):
        state = str(call.state)
        detail = ""
        if call.error and call.state in (State.FAILED, State.RETRYING, State.UPSTREAM_FAILED):
            detail = f"{call.error.get('type')}: {call.error.get('message')}"
        elif call.stored is not None:
            detail = call.stored.preview
        rows.append(
            (
                call.label or call.key,
                Text(state, style=STYLES.get(state, "")),
                str(call.attempt or ""),
                _seconds(call.started_at, call.ended_at, now),
                " ".join(detail.split()),
            )
        )
    return tables.build(TASK_COLUMNS, rows, title)


TASK_COLUMNS = (
    Column("task"),
    Column("state"),
    Column("attempt", justify="right"),
    Column("duration", justify="right"),
    Column("detail", Fit.DETAIL, max_width=60),
)
TASKS_COLUMNS = (
    Column("task"),
    Column("calls", justify="right"),
    Column("states", Fit.WRAP),
    Column("median", justify="right"),
    Column("max", justify="right"),
)


def tasks_table(calls: list[TaskCall], title: str) -> tables.Fitted:
    """One row per task (not per call): how many calls ended in which state, and how long the
    calls that ran took. A large run's summary: its 25 latest calls would say little."""
    by_name: dict[str, list[TaskCall]] = {}
    for call in calls:
        by_name.setdefault(call.name, []).append(call)
    rows = []
    for name, group in by_name.items():
        states = Counter(str(c.state) for c in group)
        text = Text()
        for index, (state, n) in enumerate(sorted(states.items())):
            if index:
                text.append(", ")
            text.append(f"{n:,} {state}", style=STYLES.get(state, ""))
        seconds = sorted(
            (c.ended_at - c.started_at).total_seconds()
            for c in group
            if c.started_at is not None and c.ended_at is not None
        )
        median = f"{seconds[len(seconds) // 2]:.2f}s" if seconds else ""
        longest = f"{seconds[-1]:.2f}s" if seconds else ""
        rows.append((name, f"{len(group):,}", text, median, longest))
    return tables.build(TASKS_COLUMNS, rows, title)


def counts_line(calls: list[TaskCall]) -> Text:
    counts = Counter(str(c.state) for c in calls)
    text = Text(f"{len(calls)} tasks: ")
    for index, (state, n) in enumerate(sorted(counts.items())):
        if index:
            text.append(", ")
        text.append(f"{n} {state}", style=STYLES.get(state, ""))
    return text


class LiveProgress:
    """Redraws the task table a few times a second while the run is in progress."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.driver: RunDriver | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None

    def attach(self, driver: RunDriver) -> None:
        """Show ``driver``'s run (again with the new driver when a flow retry replays it)."""
        self.driver = driver
        if self._live is not None:
            return
        self._live = Live(console=self.console, refresh_per_second=8, transient=True)
        self._live.start()
        self._thread = threading.Thread(target=self._loop, name="pauta-progress", daemon=True)
        self._thread.start()

    def _render(self) -> Any:
        driver = self.driver
        assert driver is not None
        calls = list(driver.order)
        now = driver.engine.clock.now()
        title = f"run {driver.run_id} · {driver.flow.name}"
        return Group(task_table(calls, now, title), counts_line(calls))

    def _loop(self) -> None:
        while not self._stop.wait(0.125):
            if self._live is not None:
                self._live.update(self._render())

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._live is not None:
            self._live.stop()


def print_summary(console: Console, run: FlowRun, driver: RunDriver | None, elapsed: float) -> None:
    """The final table and a one-line verdict: a row per call, or per task when the run made
    more than ``MAX_ROWS`` calls (its failed calls are named below it)."""
    calls = list(driver.order) if driver is not None else []
    if calls:
        title = f"run {run.id} · {run.flow}"
        if len(calls) > MAX_ROWS:
            console.print(tasks_table(calls, title), crop=False)
        else:
            end = run.ended_at or driver.engine.clock.now()
            console.print(task_table(calls, end, title), crop=False)
        console.print(counts_line(calls))
    state = str(run.state)
    line = Text(f"{run.flow} ", style="bold")
    line.append(state, style=STYLES.get(state, ""))
    line.append(f" in {elapsed:.2f}s · run {run.id}")
    console.print(line)
    if run.state != "SUCCEEDED":
        failed = [c for c in calls if c.state == State.FAILED and c.error]
        for call in failed[:5]:
            error = call.error or {}
            console.print(
                Text(
                    f"{call.label or call.key} failed: {error.get('type')}: {error.get('message')}",
                    style="red",
                )
            )
        if run.error and not failed:
            console.print(Text(f"{run.error.get('type')}: {run.error.get('message')}", style="red"))
        console.print(f"details: pauta runs show {run.id} · logs: pauta logs {run.id}")
