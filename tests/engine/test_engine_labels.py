"""Call labels: ``@task(label=...)`` names each call after its arguments, beside its key."""

from __future__ import annotations

from pathlib import Path

import label_flows as lf
import pytest

from pauta import task
from pauta.app.runs import show_run
from pauta.core.errors import DefinitionError
from pauta.engine.runner import Runner


def test_each_call_is_labelled_from_its_arguments(runner: Runner) -> None:
    run = runner.run(lf.labelled, {"n": 3})
    assert run.state == "SUCCEEDED", run.error
    store = runner.engine().store
    labels = {t.key: t.label for t in store.list_task_runs(run.id)}
    assert labels == {
        "load-0": None,  # no label: shown by its key
        "train-0": "train[forest]",
        "train-1": "train[logreg]",  # given by keyword, depth from its default
        "score-0": "score train[forest] on load-0",  # futures show as their call's label or key
        "broken_label-0": "?",
        "load-1": None,
        "square-0[0]": "item 000",
        "square-0[1]": "item 001",
        "square-0[2]": "item 002",
    }
    # JSON (runs show --json, the API) carries the label beside the key
    view = show_run(store, run.id)
    shown = {t["key"]: t["label"] for t in view["tasks"]}
    assert shown["train-0"] == "train[forest]"
    assert shown["load-0"] is None


def test_a_label_naming_no_parameter_fails_where_the_task_is_defined() -> None:
    with pytest.raises(DefinitionError, match=r"\{knd\}, which is not a parameter.*kind"):

        @task(label="train[{knd}]")
        def train(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="name each field after a parameter"):

        @task(label="train[{}]")
        def train2(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="not a valid format string"):

        @task(label="train[{kind]")
        def train3(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="non-empty format string"):

        @task(label="")
        def train4(kind: str) -> None: ...


def test_long_labels_are_cut() -> None:
    from pauta.definitions.labels import MAX_LABEL_LENGTH, render_label

    def fn(text: str) -> None: ...

    label = render_label("{text}", fn, ("x" * 500,), {}, lambda value: None)
    assert len(label) == MAX_LABEL_LENGTH
    assert label.endswith("…")


def test_calls_in_a_group_carry_its_path_in_their_keys(runner: Runner) -> None:
    run = runner.run(lf.grouped, {"kinds": ["logreg", "forest"]})
    assert run.state == "SUCCEEDED", run.error
    assert run.result() == [
        "outside", "logreg", "logreg", "logreg", "forest", "forest", "forest", "train-level",
        "after",
    ]  # fmt: skip
    store = runner.engine().store
    groups = {t.key: t.group for t in store.list_task_runs(run.id)}
    assert groups == {
        "fit-0": None,
        "train.logreg.fit-0": "train.logreg",
        "train.logreg.fit-1[0]": "train.logreg",
        "train.logreg.fit-1[1]": "train.logreg",
        "train.forest.fit-0": "train.forest",  # counters are per group
        "train.forest.fit-1[0]": "train.forest",
        "train.forest.fit-1[1]": "train.forest",
        "train.fit-0": "train",
        "fit-1": None,  # the group ended with its block
    }
    view = show_run(store, run.id)
    assert {t["key"]: t["group"] for t in view["tasks"]} == groups


def test_a_group_name_must_be_one_plain_word() -> None:
    from pauta import group

    for bad in ("", "a.b", "-x", "x y", 3):
        with pytest.raises(DefinitionError, match="group name"), group(bad):  # type: ignore[arg-type]
            pass


# -- teardown -----------------------------------------------------------------------------------
def test_a_call_in_finally_runs_when_the_body_fails(runner: Runner) -> None:
    run = runner.run(lf.with_finally, {"fail": True})
    assert run.state == "FAILED"
    states = {t.key: t.state for t in runner.engine().store.list_task_runs(run.id)}
    assert states == {"work-0": "FAILED", "clean_up-0": "SUCCEEDED"}


def test_a_teardown_task_runs_after_a_failure_and_its_own_failure_decides_nothing(
    runner: Runner,
) -> None:
    store = runner.engine().store
    failed = runner.run(lf.marked_teardown, {"fail": True})
    assert failed.state == "FAILED"  # work failed and the body never looked at it
    calls = {t.key: t for t in store.list_task_runs(failed.id)}
    assert calls["release-0"].state == "SUCCEEDED"
    assert calls["release-0"].teardown
    assert "work-0" in failed.error["message"]
    assert "release-0" not in failed.error["message"]
    log = runner.engine().store.list_attempts(failed.id, "release-0")[0].log_path
    assert "released None (ok)" in Path(log).read_text()  # None for what failed

    broken = runner.run(lf.marked_teardown, {"tag": "broken"})
    assert broken.state == "SUCCEEDED"  # the body returned: a failed teardown is only shown
    calls = {t.key: t for t in store.list_task_runs(broken.id)}
    assert calls["release-0"].state == "FAILED"
    view = show_run(store, broken.id)
    assert {t["key"]: t["teardown"] for t in view["tasks"]} == {
        "work-0": False,
        "release-0": True,
    }


def test_a_cancel_lets_the_body_s_finally_run_its_teardown(runner: Runner) -> None:
    import threading

    result: dict[str, object] = {}

    def drive() -> None:
        result["run"] = runner.run(lf.cancelled_with_finally, {"seconds": 30.0})

    thread = threading.Thread(target=drive)
    thread.start()
    store = runner.engine().store
    deadline = store.clock.monotonic() + 30
    while store.clock.monotonic() < deadline:
        runs = store.list_flow_runs(flow="cancelled_with_finally")
        running = [r for r in runs if r.state == "RUNNING"]
        calls = store.task_runs_by_key(running[0].id) if running else {}
        if "slow_work-0" in calls and calls["slow_work-0"].state == "RUNNING":
            break
        threading.Event().wait(0.05)
    for driven in runner.engine().runs():
        if driven.flow.name == "cancelled_with_finally":
            driven.cancel()
    thread.join(timeout=60)
    run = result["run"]
    assert run.state == "CANCELLED"  # type: ignore[attr-defined]
    calls = {t.key: t for t in store.list_task_runs(run.id)}  # type: ignore[attr-defined]
    assert calls["slow_work-0"].state == "CANCELLED"
    assert calls["clean_up-0"].state == "SUCCEEDED"
    assert calls["clean_up-0"].teardown


# -- latest only --------------------------------------------------------------------------------
def _scheduled(runner: Runner, day: int) -> str:
    """A run of nightly_report for the tick of December ``day``, as the scheduler makes it."""
    from datetime import UTC, datetime

    from pauta.store.creation import Interval, identity, new_flow_run

    store = runner.engine().store
    tick = datetime(2026, 12, day, 3, 0, tzinfo=UTC)
    record = new_flow_run(
        identity(lf.nightly_report),
        {},
        now=store.clock.now(),
        trigger="schedule",
        interval=Interval(tick, tick, tick),
        schedule_key=f"nightly_report@{tick.isoformat()}",
    )
    return store.create_flow_run(record).id


def _drive(runner: Runner, run_id: str) -> dict[str, str]:
    from pauta.engine.lease import driver_identity

    store = runner.engine().store
    host, pid = driver_identity()
    claimed = store.claim_queued_run(host=host, pid=pid, now=store.clock.now())
    assert claimed is not None
    assert claimed.id == run_id
    run = runner.run_claimed(claimed)
    assert run.state == "SUCCEEDED", run.error  # skipped calls are not failures
    return {t.key: str(t.state) for t in store.list_task_runs(run_id)}


def test_latest_only_skips_outside_the_latest_tick(runner: Runner) -> None:
    older, newer = _scheduled(runner, 1), _scheduled(runner, 2)  # catching up two ticks
    assert _drive(runner, older) == {
        "work-0": "SUCCEEDED",
        "publish-0": "SKIPPED",
        "announce-0": "SKIPPED",  # takes the skipped call's result
        "archive-0": "SUCCEEDED",  # only waited for it
    }
    store = runner.engine().store
    assert store.get_flow_run(older).result.preview == (
        "{'announced': None, 'archived': 'archived', 'published': None}"
    )
    assert store.task_runs_by_key(older)["publish-0"].error["type"] == "Skipped"
    assert set(_drive(runner, newer).values()) == {"SUCCEEDED"}  # the latest tick runs all


def test_latest_only_runs_in_runs_started_by_hand(runner: Runner) -> None:
    run = runner.run(lf.nightly_report, {})
    assert run.state == "SUCCEEDED"
    assert run.result()["published"] == "published worked"
