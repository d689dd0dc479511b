"""Live progress of a run in the terminal, and the summary printed with rich when it ends."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from pauta.cli import tables
from pauta.cli.summary import (
    TASK_COLUMNS,
    Cell,
    Markup,
    Spans,
    Table,
    counts,
    summary,
    task_rows,
)

if TYPE_CHECKING:
    from pauta.engine.calls import TaskCall
    from pauta.engine.replay import RunDriver
    from pauta.engine.runs import FlowRun


def text(spans: Spans) -> Text:
    """Styled spans as one rich ``Text``."""
    out = Text()
    for part, style in spans:
        out.append(part, style=style)
    return out


def _cell(cell: Cell) -> tables.Cell:
    return cell if isinstance(cell, str) else text(cell)


def table(block: Table) -> tables.Fitted:
    rows = [tuple(_cell(cell) for cell in row) for row in block.rows]
    return tables.build(block.columns, rows, block.title)


def task_table(calls: list[TaskCall], now: datetime, title: str) -> tables.Fitted:
    return table(Table(TASK_COLUMNS, task_rows(calls, now), title))


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
        return Group(task_table(calls, now, title), text(counts(calls)))

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
    """``pauta.cli.summary.summary`` printed with rich (styles, the terminal's width)."""
    for block in summary(run, driver, elapsed):
        if isinstance(block, Table):
            console.print(table(block), crop=False)
        elif isinstance(block, Markup):
            console.print(str(block))
        else:
            console.print(text(block))
