"""The CLI's tables: ids, names and states are shown whole; a detail column gives way.

Rich shrinks a table that does not fit the terminal (80 columns in a pipe) by cutting every
column evenly once the wrappable ones are at their narrowest: a state came out as ``SU…``.
Here a ``WHOLE`` column never wraps and is at least as wide as its widest cell; a ``WRAP``
column wraps between words and is never narrower than its longest word (up to ``LONG_WORD``);
a ``DETAIL`` column takes what is left and cuts its one line with an ellipsis. When even that
does not fit, the table is laid out as wide as it needs: print it with ``crop=False`` and a
row runs past the terminal's edge (the terminal wraps it) instead of being cut there.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from pauta.cli.columns import Column, Fit

__all__ = ["Cell", "Column", "Fit", "Fitted", "build"]

Cell = str | Text

LONG_WORD = 16
"""A ``WRAP`` column may cut a word longer than this (a preview's long token) across lines."""


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _narrowest(column: Column, cells: list[str]) -> int:
    """The width below which ``column`` would cut a word of its cells (or its header)."""
    if column.fit is Fit.DETAIL:
        return 1
    if column.fit is Fit.WRAP:
        words = [word for text in [column.header, *cells] for word in text.split()]
        return min(max(map(cell_len, words), default=0), LONG_WORD)
    return max(cell_len(line) for text in [column.header, *cells] for line in text.splitlines())


class Fitted:
    """A table never laid out narrower than its columns' least widths: past that, rich would
    cut every column evenly, the whole ones too."""

    def __init__(self, table: Table, least: int) -> None:
        self.table = table
        self.least = least

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.table.width = self.least if options.max_width < self.least else None
        yield self.table


def build(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None
) -> Fitted:
    """A borderless table of ``rows`` under ``columns``, left to right."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    # one space each side of a column, none at the table's edges
    least = 2 * (len(columns) - 1)
    for index, column in enumerate(columns):
        cells = [_plain(row[index]) for row in rows]
        narrowest = _narrowest(column, cells)
        least += narrowest
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.fit is Fit.WHOLE,
            overflow="ellipsis" if column.fit is Fit.DETAIL else "fold",
            min_width=narrowest,
            max_width=column.max_width,
        )
    details = [i for i, column in enumerate(columns) if column.fit is Fit.DETAIL]
    for row in rows:
        # cells are data, never rich markup: a label like "train[forest]" or a preview that
        # holds "[red]" is shown as written
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in row]
        for index in details:
            # one line: the column can shrink (it is not no_wrap) while its cell never wraps
            cells[index] = _one_line(cells[index])
        table.add_row(*cells)
    return Fitted(table, least)


def _one_line(cell: Cell) -> Text:
    if isinstance(cell, Text):
        text = cell.copy()
        text.no_wrap, text.overflow = True, "ellipsis"
        return text
    return Text(cell, no_wrap=True, overflow="ellipsis")
