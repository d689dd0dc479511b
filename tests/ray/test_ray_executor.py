"""Flows on a real two-node Ray cluster, driven by an in-process runner."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from ray_support import Cluster, Node

import ray
from pauta.core.loading import load_file
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import State
from pauta.engine.runner import Runner

flows = load_file(Path(__file__).with_name("ray_flows.py"))

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture
def runner(cluster: Cluster, tmp_path: Path) -> Iterator[Runner]:
    settings = replace(Settings.from_env(tmp_path / "home"), ray_address=cluster.address)
    made = Runner(settings, capacity=Resources(cpus=2, memory="2GiB"), workers=1)
    yield made
    made.close()


def _errors(runner: Runner, run_id: str) -> dict[str, object]:
    """Each failed call's error, for an assertion's message."""
    store = runner.engine().store
    found: dict[str, object] = {t.key: t.error for t in store.list_task_runs(run_id) if t.error}
    found["run"] = store.get_flow_run(run_id).error
    return found


def _attempts(runner: Runner, run_id: str, key: str) -> list:
    return runner.engine().store.list_attempts(run_id, key)


def _keys(runner: Runner, run_id: str, name: str) -> list[str]:
    return [t.key for t in runner.engine().store.list_task_runs(run_id) if t.name.endswith(name)]


def test_a_fan_out_runs_on_ray_and_returns_each_value(runner: Runner, cluster: Cluster) -> None:
    run = runner.run(flows.fan_out, {"n": 6})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    assert run.result() == [i * i for i in range(6)]
    store = runner.engine().store
    nodes = {
        a.node for t in store.list_task_runs(run.id) for a in store.list_attempts(run.id, t.key)
    }
    cluster_nodes = {n.node_id for n in cluster.nodes}
    assert nodes <= cluster_nodes, "every attempt records the Ray node that ran it"


def test_a_warm_worker_imports_the_flow_module_once(runner: Runner) -> None:
    run = runner.run(flows.warm, {"n": 8})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    seen: dict[str, set[str]] = {}
    for pid, imported in run.result():
        seen.setdefault(pid, set()).add(imported)
    assert all(len(stamps) == 1 for stamps in seen.values()), seen
    assert len(seen) < 8, "Ray reuses worker processes between attempts"


def test_a_custom_resource_pins_the_task_to_node_b(runner: Runner, cluster: Cluster) -> None:
    run = runner.run(flows.pinned, {})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    assert run.result() == cluster.node_b.node_id
    [key] = _keys(runner, run.id, "on_b")
    assert [a.node for a in _attempts(runner, run.id, key)] == [cluster.node_b.node_id]


def test_a_gpu_task_sees_only_its_own_device(runner: Runner, cluster: Cluster) -> None:
    run = runner.run(flows.gpu, {})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    found = run.result()
    assert found["node"] == cluster.node_b.node_id, "only node B declares a GPU"
    assert found["cuda"] == "0"
    assert found["ray"] == ["0"]


def test_a_task_that_fits_no_node_fails_at_once_with_why(runner: Runner) -> None:
    started = time.monotonic()
    run = runner.run(flows.never_fits, {})
    assert time.monotonic() - started < 30
    assert run.state == "FAILED"
    [task] = [t for t in runner.engine().store.list_task_runs(run.id) if t.name.endswith("huge")]
    assert task.state == State.FAILED
    assert task.error["kind"] == "resources"
    assert "gpus=8" in task.error["message"]
    assert "does not autoscale" in task.error["message"]


def test_an_exception_fails_with_the_traceback_made_on_the_node(runner: Runner) -> None:
    run = runner.run(flows.failing, {})
    assert run.state == "FAILED"
    [task] = [t for t in runner.engine().store.list_task_runs(run.id) if "explodes" in t.name]
    error = task.error
    assert error["type"] == "ValueError"
    assert error["message"] == "bad value 7 on the node"
    # the frames of the node's call stack (named by file when the module travelled by
    # reference, as <dynamic-code> when it travelled by value)
    assert "in explodes" in error["traceback"]
    assert "in _nested_failure" in error["traceback"]
    [attempt] = _attempts(runner, run.id, task.key)
    assert attempt.log_path is not None
    log = Path(attempt.log_path).read_text()
    assert "about to fail" in log
    assert "ValueError: bad value 7" in log


def test_print_output_and_log_lines_reach_the_attempt_log(runner: Runner) -> None:
    run = runner.run(flows.talks, {"word": "hola"})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    assert run.result() == "HOLA"
    [key] = _keys(runner, run.id, "chatty")
    [attempt] = _attempts(runner, run.id, key)
    log = Path(attempt.log_path).read_text()
    assert "printed on ray: hola" in log
    assert "logged on ray: hola" in log


def test_a_mixed_flow_runs_one_task_on_ray_and_the_rest_locally(
    runner: Runner, cluster: Cluster
) -> None:
    run = runner.run(flows.mixed, {"x": 5})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    found = run.result()
    assert found["first"]["value"] == 10
    assert found["second"]["value"] == 11
    assert found["third"]["value"] == 22
    assert found["second"]["node"] in {n.node_id for n in cluster.nodes}
    ray_pid = found["second"]["pid"]
    assert found["first"]["pid"] != ray_pid
    assert found["third"]["pid"] != ray_pid
    store = runner.engine().store
    local_keys = [t.key for t in store.list_task_runs(run.id) if "local" in t.name]
    for key in local_keys:
        [attempt] = store.list_attempts(run.id, key)
        assert attempt.node == os.uname().nodename, "a local attempt records this host"


def test_a_timeout_stops_the_ray_task(runner: Runner) -> None:
    started = time.monotonic()
    run = runner.run(flows.times_out, {})
    assert run.state == "FAILED"
    assert time.monotonic() - started < 30
    [task] = [t for t in runner.engine().store.list_task_runs(run.id) if "sleeps_long" in t.name]
    assert task.error["kind"] == "timeout"


def _gone(pid: int, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.2)
    return False


def test_a_cancelled_attempt_stops_its_ray_task(runner: Runner, tmp_path: Path) -> None:
    run = runner.run(flows.cancelled_on_ray, {"folder": str(tmp_path)})
    assert run.state == "FAILED"
    assert run.error["type"] == "FlowTimeout"
    [task] = runner.engine().store.list_task_runs(run.id)
    assert task.state == State.CANCELLED
    pid = int((tmp_path / "pid").read_text())
    assert _gone(pid), "ray.cancel(force=True) ended the task's worker process"


def test_a_high_priority_task_overtakes_queued_low_ones_on_a_full_cluster(
    runner: Runner, tmp_path: Path
) -> None:
    """With submit-ahead (one attempt per slot waits in Ray's queue), the two cpus run the
    blockers and low0 and low1 wait inside Ray; low2 waits in pauta's queue, so the high one
    queued after it is submitted first and starts first."""
    folder = tmp_path / "signals"
    folder.mkdir()
    run = runner.run(flows.busy_cluster, {"folder": str(folder)})
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    found = run.result()
    lows, high = found["lows"], found["high"]
    assert high < lows[2], found
    assert max(lows[:2]) < lows[2], "the lows submitted ahead ran first, in their order"


def test_demand_that_does_not_fit_is_told_to_the_autoscaler(runner: Runner, tmp_path: Path) -> None:
    from ray.experimental import internal_kv

    folder = tmp_path / "signals"
    folder.mkdir()
    seen: list[list[dict[str, float]]] = []

    def watch() -> None:
        # the blockers hold the cluster until the whole demand was told (or a minute passed)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = internal_kv._internal_kv_get("autoscaler_resource_request")
            if raw:
                seen.append(json.loads(raw))
                if len(seen[-1]) >= 6:
                    break
            time.sleep(0.2)
        (folder / "go").write_text("")

    import threading

    watcher = threading.Thread(target=watch)
    watcher.start()
    run = runner.run(flows.busy_cluster, {"folder": str(folder), "release": False})
    watcher.join()
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    # two blockers running, three low and one high waiting: one bundle each
    assert len(seen[-1]) == 6, seen
    assert all(bundle == {"CPU": 1.0} for bundle in seen[-1])
    after = time.monotonic() + 30
    while internal_kv._internal_kv_get("autoscaler_resource_request") != b"[]":
        assert time.monotonic() < after, "the request is withdrawn once nothing waits"
        time.sleep(0.2)


def test_a_lost_node_reruns_its_task_elsewhere_without_using_an_attempt(
    runner: Runner, cluster: Cluster, add_node: Callable[..., Node], tmp_path: Path
) -> None:
    node_c = add_node("c", "--num-cpus=1")
    folder = tmp_path / "signals"
    folder.mkdir()
    names = ["x", "y", "z"]

    import threading

    def kill_c_when_all_started() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            started = {n: folder / f"started-{n}" for n in names}
            if all(p.exists() for p in started.values()):
                on_c = [n for n, p in started.items() if p.read_text() == node_c.node_id]
                if on_c:
                    (folder / "victim").write_text(on_c[0])
                    node_c.kill()
                    cluster.wait_dead(node_c)
                    for p in started.values():
                        p.unlink()
                (folder / "go").write_text("")
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_c_when_all_started)
    killer.start()
    run = runner.run(flows.holders, {"folder": str(folder), "names": names})
    killer.join()
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    assert (folder / "victim").exists(), "one holder ran on node C"
    victim = (folder / "victim").read_text()
    store = runner.engine().store
    [task] = [
        t
        for t in store.list_task_runs(run.id)
        if t.name.endswith("hold") and t.key.endswith(str(names.index(victim)))
    ]
    # the interruption used no attempt: the same attempt ran again, on a live node
    [attempt] = store.list_attempts(run.id, task.key)
    assert task.attempts == 1
    assert attempt.state == State.SUCCEEDED
    assert attempt.node in {cluster.head.node_id, cluster.node_b.node_id}
    assert attempt.log_path is not None
    assert "the Ray node running the task was lost" in Path(attempt.log_path).read_text()
    assert ray.is_initialized()


def test_a_long_tasks_output_reaches_its_log_while_it_runs(runner: Runner, tmp_path: Path) -> None:
    import threading

    folder = tmp_path / "signals"
    folder.mkdir()
    logs = Path(runner.settings.logs_dir)
    seen: list[str] = []

    def watch() -> None:
        # the first line appears in the attempt's log here while the task still waits
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen:
            for path in logs.rglob("*.log"):
                text = path.read_text(errors="replace")
                if "first line" in text:
                    seen.append(text)
            time.sleep(0.2)
        (folder / "go").write_text("")

    watcher = threading.Thread(target=watch)
    watcher.start()
    run = runner.run(flows.live_output, {"folder": str(folder)})
    watcher.join()
    assert run.state == "SUCCEEDED", _errors(runner, run.id)
    assert seen, "the first line reached the log before the task ended"
    assert "second line" not in seen[0]
    [task] = runner.engine().store.list_task_runs(run.id)
    [attempt] = _attempts(runner, run.id, task.key)
    text = Path(attempt.log_path).read_text()
    assert text.count("first line") == 1, text
    assert text.count("second line") == 1, text
    assert text.index("first line") < text.index("second line")
