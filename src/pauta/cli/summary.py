"""What ``pauta run`` shows of a run (its table of calls, its counts, its verdict) as plain data,
and that text written without rich when it goes to a pipe or a file.

Importing rich costs a short run 20-40 ms, and a summary written to a pipe carries no styles:
there it is laid out here exactly as rich lays out what it prints (a borderless table as wide as
its widest cells with two spaces between columns and its title padded to the table's width, a
line as it is). Whatever rich would lay out otherwise is left to rich (``plain_text`` returns
None): a table or a line wider than the console, a detail longer than its column, text whose
width on screen is not one column per character, markup or emoji codes in a title.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from pauta.cli.columns import Column, Fit
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

Spans = tuple[tuple[str, str], ...]
"""Styled text: (text, rich style) pieces, in order."""
Cell = str | Spans

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


class Table:
    """Rows of cells under columns, with a title above them."""

    __slots__ = ("columns", "rows", "title")

    def __init__(self, columns: Sequence[Column], rows: list[tuple[Cell, ...]], title: str):
        self.columns = columns
        self.rows = rows
        self.title = title


class Markup(str):
    """A line rich reads as markup (printed as a ``str``, not as ``Text``)."""


Block = Table | Spans | Markup


def styled(text: str, style: str = "") -> Spans:
    return ((text, style),)


def plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else "".join(text for text, _ in cell)


def _seconds(start: datetime | None, end: datetime | None, now: datetime) -> str:
    if start is None:
        return ""
    return f"{((end or now) - start).total_seconds():.2f}s"


def _shown(calls: list[TaskCall]) -> list[TaskCall]:
    """What fits on a screen: every active or failed call first, then the latest others."""
    if len(calls) <= MAX_ROWS:
        return calls
    important = [c for c in calls if c.state not in (State.SUCCEEDED, State.CACHED, State.PENDING)]
    rest = [c for c in calls if c not in important][-max(MAX_ROWS - len(important), 0) :]
    chosen = set(map(id, important[:MAX_ROWS] + rest))
    return [c for c in calls if id(c) in chosen]


def task_rows(calls: list[TaskCall], now: datetime) -> list[tuple[Cell, ...]]:
    """A row per call (the ``MAX_ROWS`` that matter most): label, state, attempt, duration and
    its error or its result's preview."""
    rows: list[tuple[Cell, ...]] = []
    for call in _shown(calls):
        state = str(call.state)
        detail = ""
        if call.error and call.state in (State.FAILED, State.RETRYING, State.UPSTREAM_FAILED):
            detail = f"{call.error.get('type')}: {call.error.get('message')}"
        elif call.stored is not None:
            detail = call.stored.preview
        rows.append(
            (
                call.label or call.key,
                styled(state, STYLES.get(state, "")),
                str(call.attempt or ""),
                _seconds(call.started_at, call.ended_at, now),
                " ".join(detail.split()),
            )
        )
    return rows


def tasks_rows(calls: list[TaskCall]) -> list[tuple[Cell, ...]]:
    """One row per task (not per call): how many calls ended in which state, and how long the
    calls that ran took. A large run's summary: its 25 latest calls would say little."""
    by_name: dict[str, list[TaskCall]] = {}
    for call in calls:
        by_name.setdefault(call.name, []).append(call)
    rows: list[tuple[Cell, ...]] = []
    for name, group in by_name.items():
        states = Counter(str(c.state) for c in group)
        spans: list[tuple[str, str]] = []
        for index, (state, n) in enumerate(sorted(states.items())):
            if index:
                spans.append((", ", ""))
            spans.append((f"{n:,} {state}", STYLES.get(state, "")))
        seconds = sorted(
            (c.ended_at - c.started_at).total_seconds()
            for c in group
            if c.started_at is not None and c.ended_at is not None
        )
        median = f"{seconds[len(seconds) // 2]:.2f}s" if seconds else ""
        longest = f"{seconds[-1]:.2f}s" if seconds else ""
        rows.append((name, f"{len(group):,}", tuple(spans), median, longest))
    return rows


def counts(calls: list[TaskCall]) -> Spans:
    """``3 tasks: 1 FAILED, 2 SUCCEEDED``."""
    by_state = Counter(str(c.state) for c in calls)
    spans = [(f"{len(calls)} tasks: ", "")]
    for index, (state, n) in enumerate(sorted(by_state.items())):
        if index:
            spans.append((", ", ""))
        spans.append((f"{n} {state}", STYLES.get(state, "")))
    return tuple(spans)


def summary(run: FlowRun, driver: RunDriver | None, elapsed: float) -> list[Block]:
    """The final table and a one-line verdict: a row per call, or per task when the run made
    more than ``MAX_ROWS`` calls (its failed calls are named below it)."""
    calls = list(driver.order) if driver is not None else []
    blocks: list[Block] = []
    if calls:
        title = f"run {run.id} · {run.flow}"
        if len(calls) > MAX_ROWS:
            blocks.append(Table(TASKS_COLUMNS, tasks_rows(calls), title))
        else:
            assert driver is not None
            end = run.ended_at or driver.engine.clock.now()
            blocks.append(Table(TASK_COLUMNS, task_rows(calls, end), title))
        blocks.append(counts(calls))
    state = str(run.state)
    verdict = ((f"{run.flow} ", "bold"), (state, STYLES.get(state, "")))
    blocks.append((*verdict, (f" in {elapsed:.2f}s · run {run.id}", "")))
    if run.state != "SUCCEEDED":
        failed = [c for c in calls if c.state == State.FAILED and c.error]
        for call in failed[:5]:
            error = call.error or {}
            what = f"{error.get('type')}: {error.get('message')}"
            blocks.append(styled(f"{call.label or call.key} failed: {what}", "red"))
        if run.error and not failed:
            blocks.append(styled(f"{run.error.get('type')}: {run.error.get('message')}", "red"))
        blocks.append(Markup(f"details: pauta runs show {run.id} · logs: pauta logs {run.id}"))
    return blocks


# -- without rich ------------------------------------------------------------------------


def writes_to_terminal(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether rich would treat ``stream`` as a terminal (styles, live display): its rule for a
    console script, ``TTY_COMPATIBLE`` then ``FORCE_COLOR`` then ``isatty()``."""
    compatible = environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def console_width(environ: Mapping[str, str] = os.environ) -> int:
    """The width rich gives a console that is not a terminal: ``COLUMNS``, else the size of the
    first standard stream that is a terminal, else 80."""
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        return width or 80
    return 80


# rich reads ":name:" as an emoji code and "[...]" as markup in a title or a markup line
_REWRITTEN = re.compile(r"\[|:\S*:")


def _simple(text: str) -> bool:
    """One column on screen per character, as for rich: printable ASCII and the middle dot."""
    bare = text.replace("·", "")
    return bare.isascii() and bare.isprintable()


def _table_lines(table: Table, width: int) -> list[str] | None:
    cells = [[plain(cell) for cell in row] for row in table.rows]
    headers = [column.header for column in table.columns]
    if not all(_simple(text) for row in [headers, *cells] for text in row):
        return None
    widths = [max(len(text) for text in texts) for texts in zip(headers, *cells, strict=True)]
    for column, needed in zip(table.columns, widths, strict=True):
        if column.max_width is not None and needed > column.max_width:
            return None
    total = sum(widths) + 2 * (len(widths) - 1)
    title = table.title
    if total > width or len(title) > total or _REWRITTEN.search(title) or not _simple(title):
        return None
    lines = [title.ljust(total)]
    for row in [headers, *cells]:
        lines.append(
            "  ".join(
                text.rjust(size) if column.justify == "right" else text.ljust(size)
                for column, size, text in zip(table.columns, widths, row, strict=True)
            )
        )
    return lines


def plain_text(blocks: list[Block], width: int) -> str | None:
    """``blocks`` as rich prints them to a console ``width`` columns wide that is not a
    terminal, or None where rich would lay them out otherwise."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            table = _table_lines(block, width)
            if table is None:
                return None
            lines.extend(table)
            continue
        text = block if isinstance(block, str) else plain(block)
        if len(text) > width or not _simple(text):
            return None
        if isinstance(block, Markup) and _REWRITTEN.search(text):
            return None
        lines.append(text)
    return "".join(line + "\n" for line in lines)


def print_plain(blocks: list[Block]) -> bool:
    """Write ``blocks`` to standard error without rich; False (and nothing written) where only
    rich lays them out right."""
    text = plain_text(blocks, console_width())
    if text is None:
        return False
    sys.stderr.write(text)
    sys.stderr.flush()
    return True
