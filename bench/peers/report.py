"""Results of the side-by-side run: one row per (workload, N, tool), as JSON, markdown and rich."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from measure import Sample
from rich.console import Console
from rich.table import Table

COLUMNS = (
    "workload",
    "N",
    "tool",
    "wall s",
    "min-max s",
    "peak RSS MiB",
    "ms / task",
    "pauta speedup",
)


@dataclass
class Row:
    """Every measurement of one tool on one (workload, N); status says why some are missing."""

    workload: str
    n: int
    tasks: int
    tool: str
    samples: list[Sample] = field(default_factory=list)
    status: str = "ok"  # ok | capped | skipped | failed
    note: str = ""

    @property
    def completed(self) -> list[float]:
        return [s.seconds for s in self.samples if s.returncode == 0 and not s.timed_out]

    @property
    def median(self) -> float | None:
        return statistics.median(self.completed) if self.status == "ok" else None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["median_s"] = self.median
        data["peak_rss_mib"] = self.peak_mib
        return data

    @property
    def peak_mib(self) -> float | None:
        """The median over repetitions of each run's peak (one run's stray helper process can
        double a tool's footprint once)."""
        peaks = [s.peak_rss for s in self.samples if s.peak_rss]
        return statistics.median(peaks) / 2**20 if peaks else None


def speedup(row: Row, pauta: Row | None, cap_s: float) -> str:
    """How many times longer the peer took than pauta on the same workload."""
    if row.tool.startswith("pauta") or pauta is None or pauta.median is None:
        return ""
    if row.status == "capped":
        return f"> {cap_s / pauta.median:,.0f}"
    if row.median is None:
        return ""
    return f"{row.median / pauta.median:,.1f}"


def cells(row: Row, pauta: Row | None, cap_s: float) -> list[str]:
    label = f"{row.n:,}" if row.workload != "startup" else "1"
    head = [row.workload, label, row.tool]
    if row.status == "skipped":
        return [*head, "skipped", row.note, "", "", ""]
    if row.status == "failed":
        return [*head, "failed", row.note, "", "", ""]
    peak = f"{row.peak_mib:,.0f}" if row.peak_mib else ""
    if row.status == "capped":
        return [*head, f"> {cap_s:.0f}", row.note, peak, "", speedup(row, pauta, cap_s)]
    times = row.completed
    median = row.median or 0.0
    return [
        *head,
        _seconds(median),
        f"{_seconds(min(times))}-{_seconds(max(times))}",
        peak,
        f"{1000 * median / row.tasks:,.1f}",
        speedup(row, pauta, cap_s),
    ]


def _seconds(value: float) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def pauta_row(rows: list[Row], row: Row) -> Row | None:
    return next(
        (r for r in rows if r.tool == "pauta" and (r.workload, r.n) == (row.workload, row.n)),
        None,
    )


def markdown(rows: list[Row], cap_s: float) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---:|---|" + "---:|" * 5]
    for row in rows:
        lines.append("| " + " | ".join(cells(row, pauta_row(rows, row), cap_s)) + " |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[Row], cap_s: float, title: str) -> None:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("workload", "tool") else "right")
    for row in rows:
        table.add_row(*cells(row, pauta_row(rows, row), cap_s))
    Console(width=120).print(table)
