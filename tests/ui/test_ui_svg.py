"""The metric charts' geometry (pauta.ui.svg): ticks, bars, curves, runs, colours."""

from __future__ import annotations

import pytest

from pauta.app.metrics import CallValue, Curve
from pauta.ui import svg
from pauta.ui.svg import Colors, bar_chart, curve_chart, nice_ticks, runs_chart, tick_text


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.0, 0.87, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (0.8134, 0.8521, [0.81, 0.82, 0.83, 0.84, 0.85, 0.86]),
        (-3.0, 7.0, [-5.0, -2.5, 0.0, 2.5, 5.0, 7.5]),
        (5.0, 5.0, [4.5, 4.75, 5.0, 5.25, 5.5]),
        (0.0, 0.0, [-1.0, -0.5, 0.0, 0.5, 1.0]),
    ],
)
def test_ticks_are_round_and_cover_the_values(low: float, high: float, ticks: list[float]) -> None:
    found = nice_ticks(low, high)
    assert found == pytest.approx(ticks)
    assert found[0] <= low
    assert found[-1] >= high


def test_tick_texts_have_the_decimals_their_step_needs() -> None:
    assert [tick_text(t, [0.0, 0.2]) for t in (0.0, 0.4)] == ["0.0", "0.4"]
    assert tick_text(4.75, [4.5, 4.75]) == "4.75"
    assert tick_text(20.0, [0.0, 10.0]) == "20"
    assert tick_text(2e7, [0.0, 1e7]) == "2e+07"
    assert nice_ticks(0, 3, 6, integer=True) == [0, 1, 2, 3]


def test_a_bar_chart_has_a_bar_per_call_from_zero() -> None:
    values = [CallValue("train[logreg]", "train-0", 0.8), CallValue("train-1", "train-1", 0.4)]
    chart = bar_chart("accuracy", values, Colors())
    logreg, forest = chart.bars
    assert (logreg.label, logreg.value, logreg.color) == ("train[logreg]", 0.8, 0)
    assert forest.color == 1
    assert logreg.x == forest.x == chart.left  # both start at 0
    assert logreg.width == pytest.approx(2 * forest.width, rel=0.01)
    assert logreg.title == "train[logreg]: accuracy = 0.8 (train-0)"
    assert forest.title == "train-1: accuracy = 0.4"  # no key twice
    assert [t.text for t in chart.x_ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8"]
    assert chart.note == ""


def test_a_bar_chart_of_many_calls_shows_the_first_and_says_so() -> None:
    values = [CallValue(f"item {i}", f"item-0[{i}]", float(i)) for i in range(5000)]
    chart = bar_chart("loss", values, Colors())
    assert len(chart.bars) == svg.MAX_BARS
    assert chart.note == f"Showing {svg.MAX_BARS} of 5,000 calls that logged it."
    long = bar_chart("x", [CallValue("a" * 80, "k", 1.0)], Colors())
    assert long.bars[0].text == "a" * (svg.LABEL_CHARS - 1) + "\u2026"
    assert long.bars[0].title.startswith("a" * 80)


def test_negative_and_odd_values_are_drawn_or_left_out() -> None:
    values = [
        CallValue("a", "a", -2.0),
        CallValue("b", "b", 3.0),
        CallValue("c", "c", float("nan")),
    ]
    chart = bar_chart("delta", values, Colors())
    low, high = chart.bars
    assert [b.label for b in chart.bars] == ["a", "b"]
    assert low.x + low.width == pytest.approx(high.x)  # both meet at 0


def test_a_curve_chart_has_a_line_per_call_by_step() -> None:
    curves = [
        Curve("fit[a]", "fit-0", [(0, 1.0), (1, 0.5), (2, 0.25)]),
        Curve("fit[b]", "fit-1", [(0, 0.9), (2, 0.3)]),
    ]
    colors = Colors()
    colors("fit[b]")  # seen first elsewhere on the page: it keeps its colour
    chart = curve_chart("loss", curves, colors)
    a, b = chart.lines
    assert (a.label, a.color, len(a.points)) == ("fit[a]", 1, 3)
    assert b.color == 0
    assert chart.legend == [("fit[a]", 1), ("fit[b]", 0)]
    assert a.points[0].x == b.points[0].x < a.points[1].x < a.points[2].x == b.points[1].x
    assert a.points[0].y < a.points[2].y  # higher values are higher up (smaller y)
    assert a.points[1].title == "fit[a] \u00b7 step 1: loss = 0.5"
    assert a.path.count(",") == 3


def test_a_runs_chart_has_a_point_per_run_linking_to_it() -> None:
    runs = [
        {
            "id": f"r{i}",
            "state": "SUCCEEDED",
            "logical_date": f"2026-11-{2 + 7 * i:02d}T03:00:00+00:00",
        }
        for i in range(3)
    ]
    series = [
        {
            "label": "logreg",
            "points": [{"run_id": "r0", "value": 0.8}, {"run_id": "r2", "value": 0.9}],
        },
        {"label": "forest", "points": [{"run_id": "r1", "value": 0.85}]},
    ]
    chart = runs_chart("accuracy", series, runs, Colors())
    logreg, forest = chart.lines
    assert [p.href for p in logreg.points] == ["/runs/r0", "/runs/r2"]
    assert logreg.points[0].x < forest.points[0].x < logreg.points[1].x
    assert [t.text for t in chart.x_ticks] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert "2026-11-16 (run r2): accuracy = 0.9" in logreg.points[1].title
    many = [{"label": f"item {i}", "points": [{"run_id": "r1", "value": 1.0}]} for i in range(20)]
    crowded = runs_chart("accuracy", [*many, *series], runs, Colors())
    # the series with the most points are kept, in their order
    assert [line.label for line in crowded.lines] == [*(f"item {i}" for i in range(9)), "logreg"]
    assert len(crowded.lines) == svg.MAX_LINES
    assert crowded.note == f"Showing {svg.MAX_LINES} of 22 series."
    same_day = [{**r, "logical_date": f"2026-11-02T0{i}:00:00+00:00"} for i, r in enumerate(runs)]
    assert runs_chart("a", series, same_day, Colors()).x_ticks[1].text == "11-02 01:00"


def test_colours_cycle_through_the_palette() -> None:
    colors = Colors()
    assert [colors(f"s{i}") for i in range(12)] == [*range(10), 0, 1]
    assert colors("s3") == 3
