"""Store: a run's calls folded by map, and paged, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pauta.core.states import FlowRunState, State
from pauta.store.records import AttemptRecord, FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.repository import Store

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
RUN = "0000run000000001"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(key: str, state: State, n: int, **fields: object) -> TaskRunRecord:
    name = key.split("-")[0]
    fields.setdefault("attempts", 1)
    return TaskRunRecord(RUN, key, name, state, created_at=at(n), **fields)  # type: ignore[arg-type]


def a_mapped_run(store: Store, items: int = 12) -> None:
    """load-0; process-0[i] over ``items`` items (every fourth FAILED, the last still RUNNING,
    the first tried twice), waiting on load-0; a second map over process-0's results, item by
    item; report-0 waiting on all of process-0."""
    store.create_flow_run(
        FlowRunRecord(RUN, "mapped", FlowRunState.RUNNING, {}, T0, T0, T0, "manual", created_at=T0)
    )
    calls = [call("load-0", State.SUCCEEDED, 0, started_at=at(0), ended_at=at(1))]
    for i in range(items):
        state = (
            State.RUNNING if i == items - 1 else (State.FAILED if i % 4 == 3 else State.SUCCEEDED)
        )
        calls.append(
            call(
                f"process-0[{i}]", state, 1 + i, map_index=i, upstream=["load-0"],
                started_at=at(2 + i), ended_at=None if state is State.RUNNING else at(3 + i),
                attempts=2 if i == 0 else 1, label=f"item {i:02d}",
            )
        )  # fmt: skip
    for i in range(3):
        calls.append(
            call(f"score-0[{i}]", State.PENDING, 100 + i, map_index=i, upstream=[f"process-0[{i}]"])
        )
    calls.append(
        call("report-0", State.PENDING, 200, upstream=[f"process-0[{i}]" for i in range(items)])
    )
    attempts = [
        AttemptRecord(RUN, c.key, 1, c.state, c.created_at, c.started_at, c.ended_at) for c in calls
    ]
    store.write(
        WriteBatch(tasks=[TaskWrite(c, None, a) for c, a in zip(calls, attempts, strict=True)]), T0
    )


def test_each_map_is_one_group_with_its_calls_counted(store: Store) -> None:
    a_mapped_run(store)
    groups = store.call_groups(RUN)
    assert [(g.key, g.mapped, g.total) for g in groups] == [
        ("load-0", False, 1),
        ("process-0", True, 12),
        ("score-0", True, 3),
        ("report-0", False, 1),
    ]
    load, process, score, report = groups
    assert process.states == {"SUCCEEDED": 9, "FAILED": 2, "RUNNING": 1}
    assert process.upstream == ["load-0"]
    assert (process.started_at, process.ended_at) == (at(2), None)  # one still runs
    assert process.attempts == 13
    assert process.name == "process"
    assert score.upstream == ["process-0"]  # item by item, folded into one edge
    assert report.upstream == ["process-0"]
    assert (load.states, load.ended_at, load.label) == ({"SUCCEEDED": 1}, at(1), None)
    assert store.call_groups("0000nosuchrun001") == []


def test_the_last_end_of_a_finished_map(store: Store) -> None:
    a_mapped_run(store, items=3)
    done = call("process-0[2]", State.SUCCEEDED, 3, map_index=2, upstream=["load-0"],
                started_at=at(4), ended_at=at(9))  # fmt: skip
    store.write(WriteBatch(tasks=[TaskWrite(done, State.RUNNING)]), T0)
    process = store.call_groups(RUN)[1]
    assert (process.states, process.ended_at) == ({"SUCCEEDED": 3}, at(9))


def test_calls_are_paged_by_state_and_by_map(store: Store) -> None:
    a_mapped_run(store)
    assert store.count_task_states(RUN) == {
        "SUCCEEDED": 10, "FAILED": 2, "RUNNING": 1, "PENDING": 4,
    }  # fmt: skip
    assert store.count_task_states(RUN, stem="process-0") == {
        "SUCCEEDED": 9, "FAILED": 2, "RUNNING": 1,
    }  # fmt: skip
    assert store.count_task_states(RUN, stem="process") == {}  # a stem, not a name
    page = store.task_page(RUN, limit=5, offset=5)
    assert [t.key for t in page] == [f"process-0[{i}]" for i in range(4, 9)]
    failed = store.task_page(RUN, state="FAILED", stem="process-0", limit=2, offset=1)
    assert [(t.key, t.label) for t in failed] == [("process-0[7]", "item 07")]
    assert [t.key for t in store.task_page(RUN, stem="score-0")] == [
        f"score-0[{i}]" for i in range(3)
    ]
    assert store.task_page(RUN, offset=1000) == []


def test_attempts_and_labels_of_some_calls(store: Store) -> None:
    a_mapped_run(store)
    assert [a.key for a in store.unmapped_attempts(RUN)] == ["load-0", "report-0"]
    assert [a.key for a in store.attempts_of(RUN, ["process-0[3]", "load-0"])] == [
        "load-0",
        "process-0[3]",
    ]
    assert store.attempts_of(RUN, []) == []
    assert store.labels_of(RUN, ["process-0[3]", "load-0"]) == {"process-0[3]": "item 03"}
