"""The pure parts of the web UI: the graph and timeline, the vendored
files' checksums."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pauta.core.states import State
from pauta.store.records import AttemptRecord
from pauta.store.reports import CallGroup
from pauta.ui.charts import format_seconds, gantt, graph_data, state_counts
from pauta.ui.templating import STATIC, time_tag, to_json, zoned_time


def call(key: str, state: str, upstream: list[str] | None = None, **more: Any) -> CallGroup:
    return CallGroup(key, key.split("-")[0], False, {state: 1}, upstream or [], **more)


def test_the_graph_has_a_node_per_call_and_edges_from_upstream() -> None:
    groups = [
        call("load-0", "SUCCEEDED"),
        call("train-0", "RUNNING", ["load-0"], label="train[forest]"),
        call("train-1", "QUEUED", ["load-0"]),
    ]
    data = graph_data(groups)
    assert [n["state"] for n in data["nodes"]] == ["SUCCEEDED", "RUNNING", "QUEUED"]
    assert [n["label"] for n in data["nodes"]] == ["load-0", "train[forest]", "train-1"]
    assert data["edges"] == [
        {"source": "load-0", "target": "train-0"},
        {"source": "load-0", "target": "train-1"},
    ]
    limited = graph_data(groups, limit=1)
    assert (len(limited["nodes"]), limited["edges"], limited["total"]) == (1, [], 3)
    assert limited["hidden"] == 2


def test_a_map_is_one_node_counting_its_calls_by_state() -> None:
    mapped = CallGroup("process-0", "process", True, {"SUCCEEDED": 4990, "FAILED": 10}, ["load-0"])
    groups = [call("load-0", "SUCCEEDED"), mapped, call("reduce-0", "PENDING", ["process-0"])]
    data = graph_data(groups)
    node = data["nodes"][1]
    assert node == {
        "id": "process-0",
        "label": "process-0 \u00d75,000\n4,990 succeeded \u00b7 10 failed",
        "state": "FAILED",
        "map": True,
    }
    assert data["edges"] == [
        {"source": "load-0", "target": "process-0"},
        {"source": "process-0", "target": "reduce-0"},
    ]
    assert data["total"] == 5002  # calls, not nodes
    assert state_counts({"RUNNING": 2, "QUEUED": 7, "SUCCEEDED": 0}) == "7 queued \u00b7 2 running"


def test_the_timeline_places_attempts_on_one_axis() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    attempts = [
        AttemptRecord("r", "a-0", 1, State.FAILED, at(0), at(0), at(2)),
        AttemptRecord("r", "a-0", 2, State.SUCCEEDED, at(4), at(5), at(6)),
        AttemptRecord("r", "b-0", 1, State.RUNNING, at(6), at(6), None),
    ]
    chart = gantt(attempts, now=at(10))
    assert chart.span == 10
    assert [r.key for r in chart.rows] == ["a-0", "b-0"]
    first, second = chart.rows[0].bars
    assert (first.left, first.width) == (0, 20)
    assert (second.wait_left, second.wait_width, second.left, second.width) == (40, 10, 50, 10)
    assert chart.rows[0].duration == 3
    assert chart.rows[1].bars[0].width == 40  # still running: it ends now
    assert gantt([], now=t0).rows == []


def test_a_map_is_one_row_of_the_timeline() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    attempts = [AttemptRecord("r", "load-0", 1, State.SUCCEEDED, at(0), at(0), at(1))]
    mapped = CallGroup(
        "process-0", "process", True, {"SUCCEEDED": 3}, [], started_at=at(1), ended_at=at(5),
        attempts=4,
    )  # fmt: skip
    chart = gantt(attempts, now=at(10), maps=[mapped], labels={"load-0": "load[csv]"})
    assert [(r.key, r.label) for r in chart.rows] == [
        ("load-0", "load[csv]"),
        ("process-0", "process-0 \u00d73"),
    ]
    (bar,) = chart.rows[1].bars
    assert (bar.left, bar.width, bar.state) == (20, 80, "SUCCEEDED")
    assert "4 attempts" in bar.title
    assert chart.rows[1].duration == 4
    running = CallGroup("process-0", "process", True, {"RUNNING": 1, "SUCCEEDED": 2}, [],
                        started_at=at(1), ended_at=None)  # fmt: skip
    (bar,) = gantt(attempts, now=at(10), maps=[running]).rows[1].bars
    assert (bar.left, bar.width, bar.state) == (10, 90, "RUNNING")  # it ends now


def test_times_are_utc_in_the_markup() -> None:
    tag = str(time_tag(datetime(2026, 11, 30, 6, 0, tzinfo=UTC)))
    assert tag.startswith('<time datetime="2026-11-30T06:00:00+00:00"')
    assert "2026-11-30 06:00:00 UTC" in tag
    assert "&ndash;" in str(time_tag(None))
    assert format_seconds(0.5) == "0.50s"
    assert format_seconds(125) == "2m 05s"
    assert format_seconds(7300) == "2h 01m"


def test_json_in_a_script_tag_cannot_close_it() -> None:
    assert "</script>" not in str(to_json({"key": "</script><script>alert(1)"}))


def test_the_vendored_files_match_their_recorded_checksums() -> None:
    vendor = STATIC / "vendor"
    table = (vendor / "VENDORED.md").read_text()
    recorded = dict(re.findall(r"\| `([\w.-]+\.js)` \|.*\| `([0-9a-f]{64})` \|", table))
    assert set(recorded) == {p.name for p in vendor.glob("*.js")}
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_a_zoned_time_is_written_in_its_zone_and_names_it() -> None:
    tick = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    shown = str(zoned_time(tick, "Europe/Madrid"))
    assert ">2026-12-07 06:00 Europe/Madrid</time>" in shown
    assert 'data-zone="Europe/Madrid"' in shown  # pauta.js leaves it in this zone
    assert 'title="2026-12-07 05:00:00 UTC"' in shown
    assert ">2026-12-07 05:00:30 UTC</time>" in str(zoned_time(tick.replace(second=30), None))
    assert "UTC</time>" in str(zoned_time(tick.isoformat(), "Not/AZone"))
    assert "&ndash;" in str(zoned_time(None, "Europe/Madrid"))
