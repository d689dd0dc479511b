"""How `pauta runs compare` prints two runs side by side: one table each for the runs, their
parameters, metrics and task calls, a * on every row that differs."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from pauta.cli import tables
from pauta.cli.summary import STYLES
from pauta.cli.tables import Cell, Column, Fit

DIFFERS = "bold yellow"
TIMES = "\u00d7"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _delta(delta: float | None) -> str:
    return "" if delta is None else f"{delta:+.4g}"


def _seconds_delta(delta: float | None) -> str:
    return "" if delta is None else f"{delta:+.2f}s"


def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _state(state: str | None) -> Text:
    return Text(state or "-", style=STYLES.get(state or "", ""))


def _mark(differs: bool, cells: list[Cell]) -> list[Cell]:
    """The row with its * column; a differing row's plain cells in the highlight style."""
    if not differs:
        return ["", *cells]
    return ["*", *(Text(c, style=DIFFERS) if isinstance(c, str) else c for c in cells)]


def _call(call: dict[str, Any] | None) -> Text:
    if call is None:
        return Text("not called", style="dim")
    text = _state(call["state"])
    if call["calls"] > 1:
        text.append(f" {TIMES}{call['calls']}")
        if len(call["states"]) > 1:
            text.append(" (" + ", ".join(f"{n} {s}" for s, n in call["states"].items()) + ")")
    return text


def print_comparison(found: dict[str, Any]) -> None:
    console = Console()
    a, b = found["a"], found["b"]
    console.print(f"compare runs of {found['flow']} (Δ = B - A; * marks what differs)")
    run_rows = [
        _mark(False, ["run", a["id"], b["id"], ""]),
        _mark(a["state"] != b["state"], ["state", _state(a["state"]), _state(b["state"]), ""]),
        _mark(False, ["trigger", a["trigger"], b["trigger"], ""]),
        _mark(False, ["logical date", _when(a["logical_date"]), _when(b["logical_date"]), ""]),
        _mark(
            False,
            [
                "duration",
                _seconds(a["duration"]),
                _seconds(b["duration"]),
                _seconds_delta(found["duration"]["delta"]),
            ],
        ),
    ]
    mark = Column(" ")
    columns = (mark, Column(""), Column("A"), Column("B"), Column("Δ", justify="right"))
    console.print(tables.build(columns, run_rows), crop=False)
    if found["params"]:
        rows = [
            _mark(p["differs"], [p["name"], _value(p["a"]), _value(p["b"]), _delta(p["delta"])])
            for p in found["params"]
        ]
        columns = (
            mark, Column("parameter"), Column("A", Fit.WRAP), Column("B", Fit.WRAP),
            Column("Δ", justify="right"),
        )  # fmt: skip
        console.print(tables.build(columns, rows, title="parameters"), crop=False)
    if found["metrics"]:
        rows = [
            _mark(
                m["differs"],
                [m["task"], m["metric"], _value(m["a"]), _value(m["b"]), _delta(m["delta"])],
            )
            for m in found["metrics"]
        ]
        columns = (
            mark, Column("task"), Column("metric"), Column("A", justify="right"),
            Column("B", justify="right"), Column("Δ", justify="right"),
        )  # fmt: skip
        console.print(tables.build(columns, rows, title="metrics"), crop=False)
    rows = [
        _mark(
            t["differs"],
            [
                t["task"] + (" [map]" if t["mapped"] else ""),
                _call(t["a"]),
                _call(t["b"]),
                _seconds(t["a"] and t["a"]["duration"]),
                _seconds(t["b"] and t["b"]["duration"]),
                _seconds_delta(t["duration_delta"]),
            ],
        )
        for t in found["tasks"]
    ]
    columns = (
        mark, Column("task"), Column("A", Fit.WRAP), Column("B", Fit.WRAP),
        Column("A time", justify="right"), Column("B time", justify="right"),
        Column("Δ", justify="right"),
    )  # fmt: skip
    if rows:
        console.print(tables.build(columns, rows, title="tasks"), crop=False)
