"""Event triggers: one run per new file, asset update or finished flow run, with time passed in
and a real store; a restarted evaluator neither repeats nor misses an event."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pauta import Asset, flow, on_asset, on_file, on_flow, task
from pauta.core.errors import DefinitionError
from pauta.core.states import FlowRunState
from pauta.scheduling.discovery import Discovery, FlowInfo, discover
from pauta.scheduling.triggers import (
    EventTriggers,
    SeenFile,
    file_run_key,
    matches,
    missing_parameters,
    settled_files,
)
from pauta.store.events import Event, record_asset_event
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store
from pauta.store.tables import events

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# -- definitions ------------------------------------------------------------------------------
def test_schedule_takes_one_time_schedule_and_any_triggers() -> None:
    @flow(schedule=["0 3 * * *", on_asset("features"), on_flow("etl", state=["failed"])])
    def combined() -> None: ...

    assert combined.options.schedule.expression == "0 3 * * *"
    assert [t.describe() for t in combined.options.triggers] == [
        "on asset features",
        "on flow etl FAILED",
    ]
    with pytest.raises(DefinitionError, match="at most one time schedule"):
        flow(schedule=["0 3 * * *", "@daily"])(lambda: None)


def test_bad_triggers_are_refused_with_the_reason() -> None:
    with pytest.raises(DefinitionError, match="not an end state"):
        on_flow("etl", state="RUNNING")
    with pytest.raises(DefinitionError, match="asset name"):
        on_asset("")
    with pytest.raises(DefinitionError, match="does not take"):

        @flow(schedule=on_file("in/*.csv"))
        def no_path_param() -> None: ...

    with pytest.raises(DefinitionError, match="outputs"):
        task(outputs=[3])(lambda: None)
    with pytest.raises(DefinitionError, match="outputs: Asset: an asset name"):
        task(outputs="")(lambda: None)
    assert task(outputs=["a", Asset("b")])(lambda: None).options.outputs == (Asset("a"), Asset("b"))


# -- pure decisions ---------------------------------------------------------------------------
def test_only_settled_files_count_and_a_rewrite_is_a_new_file() -> None:
    files = [SeenFile("/in/b.csv", 100.0, 5), SeenFile("/in/a.csv", 98.0, 5)]
    assert [f.path for f in settled_files(files, now=101.0, settle=2.0)] == ["/in/a.csv"]
    assert [f.path for f in settled_files(files, now=102.0, settle=2.0)] == [
        "/in/a.csv",
        "/in/b.csv",
    ]
    first = file_run_key("ingest", SeenFile("/in/a.csv", 98.0, 5))
    assert first == file_run_key("ingest", SeenFile("/in/a.csv", 98.0, 5))
    assert first != file_run_key("ingest", SeenFile("/in/a.csv", 99.0, 5))
    assert first != file_run_key("other", SeenFile("/in/a.csv", 98.0, 5))


def test_events_match_their_triggers_only() -> None:
    asset = Event(1, "asset", "features", "r1", "build-0", "SUCCEEDED", NOW)
    ended = Event(2, "flow_run", "etl", "r2", None, "FAILED", NOW)
    assert matches(on_asset("features"), asset)
    assert not matches(on_asset("other"), asset)
    assert not matches(on_flow("etl"), ended)
    assert matches(on_flow("etl", state=["SUCCEEDED", "FAILED"]), ended)
    assert not matches(on_flow("features"), asset)


# -- against a store --------------------------------------------------------------------------
def flows_source(incoming: Path) -> str:
    return f"""
from pauta import flow, on_asset, on_file, on_flow

@flow(schedule=on_file({str(incoming / "*.csv")!r}, settle=5))
def ingest(path: str, mode: str = "full") -> None: ...

@flow(schedule=on_asset("features"))
def train() -> None: ...

@flow(schedule=on_flow("etl"))
def report(limit: int = 10) -> None: ...

@flow(schedule=on_asset("features"))
def needs_value(value: int) -> None: ...
"""


@pytest.fixture
def found(tmp_path: Path) -> Discovery:
    folder = tmp_path / "flows"
    folder.mkdir()
    (tmp_path / "incoming").mkdir()
    (folder / "triggered.py").write_text(flows_source(tmp_path / "incoming"))
    found = discover(folder)
    assert not found.errors, found.errors
    return found


def pick(found: Discovery, *names: str) -> list[FlowInfo]:
    return [found.flows[name] for name in names]


def drop(folder: Path, name: str, mtime: datetime) -> Path:
    path = folder / name
    path.write_text("a,b\n1,2\n")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_a_file_trigger_runs_once_per_new_file(
    store: Store, found: Discovery, tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    flows = pick(found, "ingest")
    first = drop(incoming, "a.csv", NOW - timedelta(seconds=10))
    drop(incoming, "b.csv", NOW - timedelta(seconds=1))  # still settling
    drop(incoming, "notes.txt", NOW - timedelta(seconds=10))  # does not match
    triggers = EventTriggers(store)
    [run] = triggers.evaluate(flows, set(), NOW)
    assert run.trigger == "file"
    assert run.params == {"path": str(first), "mode": "full"}
    assert run.logical_date == NOW - timedelta(seconds=10)
    assert run.state == FlowRunState.QUEUED
    assert triggers.evaluate(flows, set(), NOW) == []
    # b.csv has settled; a restarted scheduler does not run a.csv again
    restarted = EventTriggers(store)
    later = NOW + timedelta(seconds=10)
    [second] = restarted.evaluate(flows, set(), later)
    assert second.params["path"] == str(incoming / "b.csv")
    # a.csv written again is a new file; while paused nothing runs, after it does
    drop(incoming, "a.csv", later)
    assert restarted.evaluate(flows, {"ingest"}, later + timedelta(seconds=10)) == []
    [third] = restarted.evaluate(flows, set(), later + timedelta(seconds=10))
    assert third.params["path"] == str(first)
    assert len(store.list_flow_runs(flow="ingest", limit=0)) == 3


def test_a_file_moved_away_and_back_unchanged_is_not_run_again(
    store: Store, found: Discovery, tmp_path: Path
) -> None:
    incoming, flows = tmp_path / "incoming", pick(found, "ingest")
    stamp = NOW - timedelta(seconds=10)
    path = drop(incoming, "a.csv", stamp)
    triggers = EventTriggers(store)
    assert len(triggers.evaluate(flows, set(), NOW)) == 1
    parked = tmp_path / "a.csv"
    path.rename(parked)
    assert triggers.evaluate(flows, set(), NOW) == []  # the evaluator forgets the file
    parked.rename(path)
    os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    assert triggers.evaluate(flows, set(), NOW) == []  # its run key still refuses it
    assert len(store.list_flow_runs(flow="ingest", limit=0)) == 1


def test_an_asset_trigger_runs_once_per_update_even_across_restarts(
    store: Store, found: Discovery
) -> None:
    flows = pick(found, "train")
    record_asset_event(store, "features", NOW - timedelta(minutes=1))
    triggers = EventTriggers(store)
    # the first evaluation starts reading after what already happened
    assert triggers.evaluate(flows, set(), NOW) == []
    record_asset_event(store, "features", NOW)
    record_asset_event(store, "other", NOW)
    [run] = triggers.evaluate(flows, set(), NOW)
    assert (run.trigger, run.flow, run.logical_date) == ("asset", "train", NOW)
    assert triggers.evaluate(flows, set(), NOW) == []
    # updates made while no scheduler runs are found by the next one, once
    record_asset_event(store, "features", NOW + timedelta(seconds=5))
    record_asset_event(store, "features", NOW + timedelta(seconds=6))
    assert len(EventTriggers(store).evaluate(flows, set(), NOW)) == 2
    assert EventTriggers(store).evaluate(flows, set(), NOW) == []
    # a paused flow passes the updates over
    record_asset_event(store, "features", NOW + timedelta(seconds=7))
    assert triggers.evaluate(flows, {"train"}, NOW) == []
    assert triggers.evaluate(flows, set(), NOW) == []
    assert len(store.list_flow_runs(flow="train", limit=0)) == 3


def test_a_flow_trigger_follows_the_runs_that_end_in_its_state(
    store: Store, found: Discovery
) -> None:
    flows = pick(found, "report")
    triggers = EventTriggers(store)
    assert triggers.evaluate(flows, set(), NOW) == []
    day = datetime(2026, 3, 1, tzinfo=UTC)
    ok = end_run(store, "etl0000000000001", FlowRunState.SUCCEEDED, day)
    end_run(store, "etl0000000000002", FlowRunState.FAILED, day)
    [run] = triggers.evaluate(flows, set(), NOW)
    assert (run.trigger, run.logical_date) == ("flow", ok.logical_date)
    assert (run.interval_start, run.interval_end) == (ok.interval_start, ok.interval_end)
    assert run.params == {"limit": 10}
    assert triggers.evaluate(flows, set(), NOW) == []


def test_an_event_committed_late_is_not_missed(store: Store, found: Discovery) -> None:
    """An id handed out before a slower transaction commits is asked about again."""
    flows = pick(found, "train")
    triggers = EventTriggers(store)
    assert triggers.evaluate(flows, set(), NOW) == []
    base = max_event_id(store)
    insert_event(store, base + 2)  # committed first
    assert len(triggers.evaluate(flows, set(), NOW)) == 1
    insert_event(store, base + 1)  # the earlier id commits later
    assert len(triggers.evaluate(flows, set(), NOW)) == 1
    assert triggers.evaluate(flows, set(), NOW) == []


def test_triggers_that_cannot_fill_parameters_do_not_fire(store: Store, found: Discovery) -> None:
    flows = pick(found, "needs_value")
    assert missing_parameters(flows[0]) == ["value"]
    triggers = EventTriggers(store)
    triggers.evaluate(flows, set(), NOW)
    record_asset_event(store, "features", NOW)
    assert triggers.evaluate(flows, set(), NOW) == []


def test_flows_list_shows_triggers(found: Discovery) -> None:
    assert found.flows["ingest"].schedule.startswith("on file ")
    assert found.flows["train"].schedule == "on asset features"
    assert found.flows["report"].schedule == "on flow etl SUCCEEDED"


# -- helpers ----------------------------------------------------------------------------------
def end_run(store: Store, run_id: str, state: FlowRunState, day: datetime) -> FlowRunRecord:
    record = FlowRunRecord(
        id=run_id,
        flow="etl",
        state=FlowRunState.QUEUED,
        params={},
        logical_date=day,
        interval_start=day - timedelta(days=1),
        interval_end=day,
        trigger="schedule",
        created_at=NOW,
    )
    store.create_flow_run(record)
    assert store.transition_flow_run(
        run_id, FlowRunState.RUNNING, expected=FlowRunState.QUEUED, now=NOW
    )
    assert store.transition_flow_run(run_id, state, expected=FlowRunState.RUNNING, now=NOW)
    return replace(record, state=state)


def max_event_id(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)


def insert_event(store: Store, event_id: int) -> None:
    row = {"id": event_id, "kind": "asset", "name": "features", "created_at": NOW}
    with store.writer.begin() as conn:
        conn.execute(sa.insert(events).values(**row))
