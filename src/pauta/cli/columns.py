"""How a CLI table's column lays out its cells (see ``pauta.cli.tables``), without rich: the
plain-text summary (``pauta.cli.summary``) reads the same columns."""

from __future__ import annotations

from enum import Enum
from typing import Literal, NamedTuple

Justify = Literal["default", "left", "center", "right", "full"]


class Fit(Enum):
    WHOLE = "whole"
    WRAP = "wrap"
    DETAIL = "detail"


class Column(NamedTuple):
    header: str
    fit: Fit = Fit.WHOLE
    justify: Justify = "left"
    max_width: int | None = None
