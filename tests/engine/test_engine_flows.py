"""End-to-end behaviour of flows on the real engine: warm worker processes and SQLite."""

from __future__ import annotations

import os
import time
from pathlib import Path

import engine_flows as ef
import pytest

from pauta import FlowFailed, State, TaskFailed
from pauta.app.runs import show_run
from pauta.core.errors import ParameterError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow


def test_a_task_outside_a_flow_is_its_plain_function() -> None:
    assert ef.add(2, 3) == 5
    assert ef.add.map([1, 2], b=1) == [2, 3]


def test_map_and_fan_in(runner: Runner) -> None:
    run = runner.run(ef.sums, {"n": 4, "offset": 10})
    assert run.state == "SUCCEEDED"
    assert run.result() == sum(range(4)) + 40
    keys = sorted(t.key for t in run.tasks)
    assert keys == ["add-0[0]", "add-0[1]", "add-0[2]", "add-0[3]", "total-0"]
    assert {t.state for t in run.tasks} == {State.SUCCEEDED}
    assert all(t.attempts == 1 for t in run.tasks)


def test_futures_nested_in_lists_tuples_and_dicts_are_dependencies(runner: Runner) -> None:
    run = runner.run(ef.nested_inputs, {})
    assert run.result() == {"both": 10, "keyed": {"x": 3, "y": [7, [3]]}} or run.result() == {
        "both": 10,
        "keyed": {"x": 3, "y": [7, (3,)]},
    }
    by_key = {t.key: t for t in run.tasks}
    assert sorted(by_key["total-0"].upstream) == ["add-0", "add-1"]
    assert sorted(by_key["identity-0"].upstream) == ["add-0", "add-1"]


def test_a_map_over_a_future_records_the_edge_to_the_list(runner: Runner) -> None:
    # The graph draws edges from the stored lineage: without it make_list stood disconnected.
    run = runner.run(ef.map_over_a_future, {"n": 3})
    assert run.result() == 0 + 1 + 2 + 3
    view = show_run(runner.engine().store, run.id)
    upstream = {t["key"]: t["upstream"] for t in view["tasks"]}
    assert upstream == {
        "make_list-0": [],
        "add-0[0]": ["make_list-0"],
        "add-0[1]": ["make_list-0"],
        "add-0[2]": ["make_list-0"],
        "total-0": ["add-0[0]", "add-0[1]", "add-0[2]"],
    }


@pytest.mark.parametrize("hidden", [False, True])
def test_a_future_passed_into_its_own_task_names_the_cycle(runner: Runner, hidden: bool) -> None:
    run = runner.run(ef.own_result, {"hidden": hidden})
    assert run.state == "FAILED"
    error = runner.engine().store.task_runs_by_key(run.id)["identity-0"].error
    assert error is not None
    assert error["type"] == "CycleError"
    assert error["message"].startswith("task 'identity-0' depends on its own result")
    assert "no stored result" not in error["message"]


def test_a_future_hidden_inside_an_object_says_where_to_put_it(runner: Runner) -> None:
    run = runner.run(ef.hidden_future, {})
    assert run.state == "FAILED"
    error = runner.engine().store.task_runs_by_key(run.id)["identity-0"].error
    assert error is not None
    assert "'pause-0', which has not finished" in error["message"]
    assert "in a list, tuple or dict" in error["message"]


def test_wait_for_orders_tasks_that_share_no_data(runner: Runner, tmp_path: Path) -> None:
    out = tmp_path / "order.txt"
    for _ in range(3):
        out.unlink(missing_ok=True)
        assert runner.run(ef.ordered, {"path": str(out)}).state == "SUCCEEDED"
        assert out.read_text().split() == ["first", "second"]


def test_a_failed_task_raises_task_failed_with_the_original_error(runner: Runner) -> None:
    run = runner.run(ef.retry_only_on, {"kind": "value"})
    assert run.state == "FAILED"
    with pytest.raises(FlowFailed) as caught:
        run.result()
    assert caught.value.run_id == run.id
    assert caught.value.failed_tasks == ["fails_with-0"]
    task = run.tasks[0]
    assert task.state == State.FAILED
    assert task.error is not None
    assert task.error["type"].endswith("ValueError")
    assert "nope" in task.error["message"]
    assert "Traceback" in task.error["traceback"]


def test_a_handled_failure_does_not_fail_the_run(runner: Runner) -> None:
    run = runner.run(ef.handled_failure, {})
    assert run.state == "SUCCEEDED"
    assert run.result() == "handled TaskFailed"
    assert run.tasks[0].state == "FAILED"


def test_an_unobserved_failure_fails_the_run(runner: Runner) -> None:
    run = runner.run(ef.unobserved_failure, {})
    assert run.state == "FAILED"
    assert "boom-0" in run.error["message"]


def test_downstream_of_a_failure_ends_upstream_failed_and_independent_work_runs(
    runner: Runner,
) -> None:
    run = runner.run(ef.downstream_of_failure, {})
    states = {t.key: t.state for t in run.tasks}
    assert states == {"boom-0": "FAILED", "add-0": "UPSTREAM_FAILED", "add-1": "SUCCEEDED"}
    assert run.state == "FAILED"
    skipped = next(t for t in run.tasks if t.key == "add-0")
    assert skipped.attempts == 0
    assert "boom-0" in skipped.error["message"]


@pytest.mark.parametrize(("fail", "expected"), [(True, "ran C"), (False, "ran B")])
def test_branch_on_state_after_wait(runner: Runner, fail: bool, expected: str) -> None:
    run = runner.run(ef.branching, {"fail": fail})
    assert run.state == "SUCCEEDED"
    assert run.result() == expected


def test_retries_until_success_and_records_each_attempt(runner: Runner, tmp_path: Path) -> None:
    run = runner.run(ef.retrying, {"path": str(tmp_path / "count"), "failures": 2})
    assert run.state == "SUCCEEDED"
    assert run.result() == 3  # context().attempt of the attempt that succeeded
    task = run.tasks[0]
    assert task.attempts == 3
    attempts = runner.engine().store.list_attempts(run.id, task.key)
    assert [a.state for a in attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert "flaky failure 1" in attempts[0].error["message"]


def test_retry_on_retries_only_the_named_errors(runner: Runner) -> None:
    key_error = runner.run(ef.retry_only_on, {"kind": "key"})
    assert key_error.tasks[0].attempts == 4  # 1 + retries=3
    value_error = runner.run(ef.retry_only_on, {"kind": "value"})
    assert value_error.tasks[0].attempts == 1
    subclass = runner.run(ef.retry_only_on, {"kind": "reset"})  # an OSError
    assert subclass.tasks[0].attempts == 4


def test_a_task_that_kills_its_process_fails_only_that_attempt(runner: Runner) -> None:
    run = runner.run(ef.crashing, {})
    states = {t.key: t.state for t in run.tasks}
    assert states == {"crash-0": "FAILED", "add-0": "SUCCEEDED"}
    crashed = next(t for t in run.tasks if t.key == "crash-0")
    assert "exit code 7" in crashed.error["message"]
    # the pool replaced the dead worker: the next run works
    assert runner.run(ef.sums, {"n": 2}).state == "SUCCEEDED"


def test_context_inside_a_task_and_metrics(runner: Runner) -> None:
    run = runner.run(ef.contexts, {})
    value = run.result()
    assert value == {"run_id": run.id, "key": "whoami-0", "attempt": 1, "flow": "contexts"}
    metrics = runner.engine().store.list_metrics(run.id)
    assert [(m.key, m.name, m.value) for m in metrics] == [("whoami-0", "answer", 42.0)]
    attempt = runner.engine().store.list_attempts(run.id)[0]
    log = Path(attempt.log_path).read_text()
    assert "hello from whoami-0" in log
    assert "logged line" in log


def test_async_tasks_and_flows(runner: Runner) -> None:
    assert runner.run(ef.async_flow, {"x": 21}).result() == 42


def test_child_flows_run_as_linked_runs(runner: Runner) -> None:
    run = runner.run(ef.parent, {"x": 1})
    assert run.result() == 101 + 102
    store = runner.engine().store
    children = store.list_flow_runs(parent_run_id=run.id, limit=0)
    assert sorted(c.flow for c in children) == ["child", "child"]
    assert all(c.state == "SUCCEEDED" for c in children)
    calls = {t.key: t for t in run.tasks}
    assert calls["child-0"].kind == "flow"
    assert calls["child-0"].child_run_id in {c.id for c in children}


def test_a_task_bigger_than_any_worker_fails_at_once(runner: Runner) -> None:
    run = runner.run(ef.unschedulable, {})
    assert run.state == "FAILED"
    error = run.tasks[0].error
    assert "cpus" in error["message"]


def test_inline_isolation_runs_in_the_driving_process(runner: Runner) -> None:
    pids = runner.run(ef.isolation_modes, {}).result()
    assert pids["inline"] == os.getpid()
    assert pids["process"] != os.getpid()


def test_calling_a_flow_returns_its_value_and_raises_flow_failed(home: Path) -> None:
    # plain calls use the default runner on the environment's home
    assert ef.sums(n=2, offset=1) == 3
    assert (home / "pauta.db").is_file()
    with pytest.raises(FlowFailed) as caught:
        ef.unobserved_failure()
    assert caught.value.state == "FAILED"


def test_bad_parameters_are_refused_before_any_run_exists(runner: Runner) -> None:
    before = len(runner.engine().store.list_flow_runs(limit=0))
    with pytest.raises(ParameterError, match=r"'n'.*expected int.*'many'"):
        ef.sums.parameters.validate({"n": "many"}, from_strings=True)
    with pytest.raises(ParameterError, match="unknown parameter 'm'"):
        ef.sums.parameters.validate({"m": 1})
    with pytest.raises(ParameterError):
        ef.sums(n="many")  # type: ignore[arg-type]
    assert len(runner.engine().store.list_flow_runs(limit=0)) == before


def test_future_truth_value_is_an_error(runner: Runner) -> None:
    from pauta import flow

    seen: dict[str, str] = {}

    @flow
    def checks() -> None:
        future = ef.add(1, 1)
        try:
            bool(future)
        except TypeError as exc:
            seen["error"] = str(exc)
        future.result()

    runner.run(checks, {})
    assert ".result()" in seen["error"]


def test_a_task_called_inside_a_task_is_a_plain_call(runner: Runner) -> None:
    run = runner.run(ef.calls_a_task, {"x": 4})
    assert run.result() == 10
    assert [t.key for t in run.tasks] == ["outer-0"]


def test_task_failed_carries_task_details() -> None:
    error = TaskFailed("t", "t-0", attempts=2, error_type="ValueError", error_message="bad")
    assert "t-0" in str(error)
    assert "ValueError: bad" in str(error)


def test_a_large_numpy_result_goes_through_the_result_store(runner: Runner) -> None:
    n = 200 * 1024 * 1024 // 8  # 200 MB of float64
    run = runner.run(ef.returns_array, {"n": n})
    assert run.result() == float(n)
    big = next(t for t in run.tasks if t.key == "identity-0")
    assert big.result.size >= 200 * 1024 * 1024
    assert big.result.uri is not None
    assert "shape=(26214400,)" in big.result.preview


def test_gpu_tasks_get_the_devices_they_hold(tmp_path: Path) -> None:
    # two declared GPUs (no hardware needed): concurrent tasks get one device each
    runner = Runner(
        Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2, gpus=2), workers=2
    )
    try:
        run = runner.run(ef.gpu_pair, {"pause": 0.3})
        assert sorted(run.result()) == ["0", "1"]
        started = [t.started_at for t in run.tasks]
        ended = [t.ended_at for t in run.tasks]
        assert max(started) < min(ended)  # they ran at the same time, on different devices
    finally:
        runner.close()


def test_a_task_over_its_timeout_is_killed_with_its_children(runner: Runner) -> None:
    run = runner.run(ef.times_out, {"seconds": 30})
    assert run.state == "FAILED"
    [task] = run.tasks
    assert task.state == "FAILED"
    assert "timed out after 0.5 s" in task.error["message"]
    assert task.ended_at is not None
    assert (task.ended_at - task.started_at).total_seconds() < 10
    log = Path(runner.engine().store.list_attempts(run.id)[0].log_path).read_text()
    child = int(log.split("child ")[1].split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_a_flow_timeout_cancels_the_remaining_tasks(runner: Runner) -> None:
    started = time.monotonic()
    run = runner.run(ef.slow_flow, {})
    assert time.monotonic() - started < 20
    assert run.state == "FAILED"
    assert run.error["type"] == "FlowTimeout"
    assert "after 5 s" in run.error["message"]
    states = sorted(t.state for t in run.tasks)
    assert states == ["CANCELLED", "CANCELLED", "SUCCEEDED"]
