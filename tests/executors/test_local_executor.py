"""The local executor with real worker processes: results, failures, crashes, timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pauta.core.loading import load_file
from pauta.core.states import State
from pauta.executors.base import ResultPlaceholder
from pauta.executors.local import LocalExecutor
from pauta.executors.processes import Prestarted
from pauta.store.results import ResultStore

kit = load_file(Path(__file__).parent / "flowmods" / "kit.py")
tasks = kit.tasks

pytestmark = pytest.mark.slow


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    return {"results": tmp_path / "results", "logs": tmp_path / "logs"}


@pytest.fixture
def executor(paths):
    ex = LocalExecutor(workers=2, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    yield ex
    ex.shutdown(kill=True)


def make(fn, *args, paths, **options):
    return kit.item(fn, *args, log_dir=paths["logs"], **options)


def test_returns_values_inline_and_through_files(executor, paths):
    small = kit.run_one(executor, make(tasks.add, 2, 3, paths=paths))
    assert small.state == State.SUCCEEDED
    assert small.result.uri is None
    assert ResultStore(str(paths["results"])).get(small.result) == 5
    assert small.worker.endswith(tuple(f":{w.proc.pid}" for w in executor._workers))

    big = kit.run_one(executor, make(tasks.blob, 200_000, paths=paths, key="blob"))
    assert big.state == State.SUCCEEDED
    assert big.result.inline is None
    assert big.result.uri.endswith("run-1/blob.1.pkl")
    assert ResultStore(str(paths["results"])).get(big.result) == b"x" * 200_000
    assert big.result.size > 200_000
    assert big.started_at <= big.ended_at


def test_exception_fails_the_item_with_its_traceback_in_the_log(executor, paths):
    work = make(tasks.boom, "42", paths=paths)
    outcome = kit.run_one(executor, work)
    assert outcome.state == State.FAILED
    assert outcome.error.type == "ValueError"
    assert outcome.error.message == "boom 42"
    assert outcome.error.kind == "exception"
    assert 'raise ValueError(f"boom {text}")' in outcome.error.traceback
    assert "run_item" not in outcome.error.traceback
    log = Path(work.log_path).read_text()
    assert "ValueError: boom 42" in log
    # the worker survived
    assert kit.run_one(executor, make(tasks.add, 1, 1, paths=paths)).state == State.SUCCEEDED


def test_output_of_print_logger_and_children_lands_in_the_log(executor, paths):
    work = make(tasks.noisy, paths=paths)
    outcome = kit.run_one(executor, work)
    assert outcome.state == State.SUCCEEDED, outcome.error
    log = Path(work.log_path).read_text()
    for line in ("hello from print", "hello from the logger", "hello from stderr"):
        assert line in log
    assert "hello from a child process" in log


def test_a_prestarted_worker_runs_the_first_tasks_with_the_home_it_was_given(
    paths, tmp_path, monkeypatch
):
    """`pauta` starts a worker before it knows its settings; the pool adopts it once they are
    sent, and the worker knows the home though it started before the home was exported."""
    monkeypatch.delenv("PAUTA_HOME", raising=False)
    first = Prestarted()
    first.configure(str(paths["results"]), 64 * 1024, str(tmp_path / "home"))
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]), first=first)
    try:
        ex.start(kit.Wakeup())
        outcome = kit.run_one(ex, make(tasks.home_env, paths=paths))
        assert outcome.state == State.SUCCEEDED, outcome.error
        assert outcome.worker.endswith(f":{first.worker.pid}")
        assert ResultStore(str(paths["results"])).get(outcome.result) == str(tmp_path / "home")
        assert [w.pid for w in ex._workers] == [first.worker.pid]
    finally:
        ex.shutdown()
    assert not kit.alive(first.worker.pid)


def test_a_prestarted_worker_for_another_configuration_is_refused(paths, tmp_path):
    first = Prestarted()
    first.configure(str(paths["results"]), 64 * 1024, str(tmp_path))
    try:
        with pytest.raises(ValueError, match="another configuration"):
            LocalExecutor(workers=1, results_url=str(paths["results"]), inline_max=10, first=first)
        with pytest.raises(ValueError, match="another configuration"):
            LocalExecutor(results_url=str(paths["results"]), first=first, python="/usr/bin/python3")
    finally:
        first.discard()
    assert not kit.alive(first.worker.pid)


def test_reaping_a_worker_that_does_not_exit_kills_it_once_the_timeout_passed():
    first = Prestarted()  # it waits for its configuration: it never exits by itself
    try:
        started = time.monotonic()
        code = first.worker.reap(0.3)
        waited = time.monotonic() - started
    finally:
        for fd in first.lifeline:
            os.close(fd)
    assert code == -signal.SIGKILL
    assert 0.3 <= waited < 30
    assert not kit.alive(first.worker.pid)


def test_a_prestarted_worker_nobody_configures_ends_with_its_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "from pauta.executors.processes import Prestarted\n"
        "first = Prestarted()\n"
        "print(first.worker.pid, flush=True)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert kit.wait_gone(int(out.stdout))


def test_silent_tasks_leave_no_files(executor, paths):
    works = [make(tasks.nothing, paths=paths) for _ in range(20)]
    executor.submit(works)
    assert all(o.state == State.SUCCEEDED for o in kit.collect(executor, 20))
    executor.shutdown()
    assert kit.files_under(paths["logs"]) == []
    assert kit.files_under(paths["results"]) == []


@pytest.mark.parametrize(
    ("task", "args", "expected"),
    [
        ("exit_with", (3,), "the task's process died with exit code 3"),
        ("segfault", (), "the task's process died with exit code -11 (SIGSEGV)"),
    ],
)
def test_a_dying_process_fails_only_its_item(executor, paths, task, args, expected):
    doomed = make(getattr(tasks, task), *args, paths=paths)
    others = [make(tasks.slow_value, n, 0.2, paths=paths) for n in range(3)]
    executor.submit([doomed, *others])
    outcomes = {o.key: o for o in kit.collect(executor, 4)}
    crashed = outcomes.pop(doomed.key)
    assert crashed.state == State.FAILED
    assert crashed.error.kind == "crash"
    assert crashed.error.type == "WorkerCrashed"
    assert crashed.error.message == expected
    assert all(o.state == State.SUCCEEDED for o in outcomes.values())
    if task == "segfault":
        log = Path(doomed.log_path).read_text()
        assert "about to crash" in log
        assert "Fatal Python error: Segmentation fault" in log
    # the pool is whole again and keeps working
    again = [make(tasks.pid, paths=paths) for _ in range(4)]
    executor.submit(again)
    assert all(o.state == State.SUCCEEDED for o in kit.collect(executor, 4))
    assert len(executor._workers) == 2


def test_timeout_kills_the_task_and_its_children(executor, paths, tmp_path):
    pid_file = tmp_path / "child.pid"
    work = make(tasks.sleeper, str(pid_file), paths=paths, timeout=1.5)
    started = time.monotonic()
    outcome = kit.run_one(executor, work)
    elapsed = time.monotonic() - started
    assert outcome.state == State.FAILED
    assert outcome.error.kind == "timeout"
    assert outcome.error.type == "TimeoutError"
    assert outcome.error.message == "timed out after 1.5 s"
    assert 1.4 < elapsed < 20
    assert "pauta: the attempt was killed: timed out after 1.5 s" in Path(work.log_path).read_text()
    assert kit.wait_gone(int(pid_file.read_text()))
    assert kit.run_one(executor, make(tasks.add, 1, 2, paths=paths)).state == State.SUCCEEDED


def test_an_item_that_finishes_in_time_is_not_killed(executor, paths):
    outcome = kit.run_one(executor, make(tasks.slow_value, "ok", 0.1, paths=paths, timeout=30))
    assert outcome.state == State.SUCCEEDED
    time.sleep(0.1)
    assert executor.collect() == []


def test_cancel_a_running_and_a_queued_item(paths, tmp_path):
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    try:
        pid_file = tmp_path / "child.pid"
        running = make(tasks.sleeper, str(pid_file), paths=paths)
        queued = make(tasks.add, 1, 2, paths=paths)
        ex.submit([running, queued])
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert ex.cancel(queued.run.run_id, queued.key)
        assert ex.cancel(running.run.run_id, running.key)
        assert not ex.cancel("run-1", "no-such-key")
        outcomes = {o.key: o for o in kit.collect(ex, 2)}
        for key in (running.key, queued.key):
            assert outcomes[key].state == State.FAILED
            assert outcomes[key].error.kind == "cancelled"
            assert outcomes[key].error.type == "Cancelled"
        assert kit.wait_gone(int(pid_file.read_text()))
        assert kit.run_one(ex, make(tasks.add, 2, 2, paths=paths)).state == State.SUCCEEDED
    finally:
        ex.shutdown(kill=True)


def test_a_200_mb_array_round_trips_through_the_file_store(executor, paths):
    n = 25_000_000  # 200 MB of float64
    outcome = kit.run_one(executor, make(tasks.big_array, n, paths=paths, key="array"))
    assert outcome.state == State.SUCCEEDED, outcome.error
    assert outcome.result.serializer == "numpy"
    assert outcome.result.uri.endswith("array.1.npy")
    assert outcome.result.preview == f"ndarray shape=({n},) dtype=float64"
    assert outcome.result.size >= n * 8
    value = ResultStore(str(paths["results"])).get(outcome.result)
    assert value.shape == (n,)
    assert value[0] == 0
    assert value[12_345_678] == 12_345_678
    assert value[-1] == n - 1
    del value


def test_a_flow_module_is_imported_once_per_worker(paths, tmp_path, monkeypatch):
    log = tmp_path / "imports.txt"
    monkeypatch.setenv("PAUTA_TEST_IMPORT_LOG", str(log))
    ex = LocalExecutor(workers=2, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    try:
        works = [make(tasks.slow_value, n, 0.01, paths=paths) for n in range(30)]
        ex.submit(works)
        outcomes = kit.collect(ex, 30)
        assert all(o.state == State.SUCCEEDED for o in outcomes)
        worker_pids = {int(o.worker.rsplit(":", 1)[1]) for o in outcomes}
    finally:
        ex.shutdown()
    imports = [int(line) for line in log.read_text().split()]
    assert len(worker_pids) == 2
    assert sorted(imports) == sorted(worker_pids)


def test_closures_lambdas_and_wrapped_tasks(executor, paths):
    store = ResultStore(str(paths["results"]))
    offset = 10
    outcomes = [
        kit.run_one(executor, make(tasks.make_adder(5), 1, paths=paths)),
        kit.run_one(executor, make(lambda x: x + offset, 1, paths=paths)),
        kit.run_one(executor, make(tasks.double, 21, paths=paths)),
    ]
    assert [store.get(o.result) for o in outcomes] == [6, 11, 42]


def test_async_tasks_run(executor, paths):
    outcome = kit.run_one(executor, make(tasks.async_add, 2, 5, paths=paths, is_async=True))
    assert outcome.state == State.SUCCEEDED
    assert ResultStore(str(paths["results"])).get(outcome.result) == 7


def test_context_and_metrics(executor, paths):
    outcome = kit.run_one(executor, make(tasks.context_info, paths=paths, key="ctx", attempt=2))
    info = ResultStore(str(paths["results"])).get(outcome.result)
    assert info == {
        "run_id": "run-1",
        "flow_name": "weekly",
        "attempt": 2,
        "key": "ctx",
        "task_name": "context_info",
        "params": {"min_accuracy": 0.8},
    }
    assert [(m.name, m.value, m.step) for m in outcome.metrics] == [
        ("accuracy", 0.93, None),
        ("loss", 0.5, 3),
    ]
    assert all(outcome.started_at <= m.timestamp <= outcome.ended_at for m in outcome.metrics)


def test_upstream_results_replace_placeholders(executor, paths):
    store = ResultStore(str(paths["results"]), inline_max=1024)
    small = store.put(5, run_id="run-1", key="a", attempt=1)
    large = store.put(b"y" * 5000, run_id="run-1", key="b", attempt=1)
    assert large.uri is not None
    work = make(
        tasks.total,
        [ResultPlaceholder(small), 1, ResultPlaceholder(small)],
        extra={"blob": ResultPlaceholder(large)},
        paths=paths,
    )
    outcome = kit.run_one(executor, work)
    assert outcome.state == State.SUCCEEDED, outcome.error
    assert store.get(outcome.result) == 5 + 1 + 5 + 5000


def test_gpu_items_get_their_own_workers(paths):
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    store = ResultStore(str(paths["results"]))
    try:
        plain_env, plain_pid = store.get(kit.run_one(ex, make(tasks.cuda_env, paths=paths)).result)
        gpu0 = [make(tasks.cuda_env, paths=paths, gpu_ids=(0,)) for _ in range(2)]
        ex.submit(gpu0)
        first, second = (store.get(o.result) for o in kit.collect(ex, 2))
        assert first[0] == second[0] == "0"
        assert first[1] == second[1] != plain_pid  # one warm worker for device 0
        env1, pid1 = store.get(
            kit.run_one(ex, make(tasks.cuda_env, paths=paths, gpu_ids=(1, 0))).result
        )
        assert env1 == "1,0"
        assert pid1 != first[1]
        env, pid = store.get(kit.run_one(ex, make(tasks.cuda_env, paths=paths)).result)
        assert env == plain_env == os.environ.get("CUDA_VISIBLE_DEVICES")
        assert pid not in (first[1], pid1)
        assert len(ex._workers) == 1  # retired workers kept the pool at its size
    finally:
        ex.shutdown()


def test_excess_items_wait_in_order_and_failures_keep_the_worker(paths):
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    try:
        works = [make(tasks.pid, paths=paths), make(tasks.boom, "x", paths=paths)]
        works += [make(tasks.pid, paths=paths) for _ in range(3)]
        ex.submit(works)
        outcomes = kit.collect(ex, 5)
        assert [o.key for o in outcomes] == [w.key for w in works]
        assert len({o.worker for o in outcomes}) == 1
    finally:
        ex.shutdown()


def test_shutdown_waits_for_running_items(paths):
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    running = make(tasks.slow_value, "done", 0.5, paths=paths)
    waiting = make(tasks.add, 1, 2, paths=paths)
    ex.submit([running, waiting])
    pids = [w.proc.pid for w in ex._workers]
    ex.shutdown()
    outcomes = {o.key: o for o in ex.collect()}
    assert outcomes[running.key].state == State.SUCCEEDED
    assert outcomes[waiting.key].interrupted
    assert not any(kit.alive(pid) for pid in pids)
    assert ex._workers == []
    assert ex._retiring == []


def test_shutdown_kill_interrupts_running_items(paths, tmp_path):
    ex = LocalExecutor(workers=2, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    pid_file = tmp_path / "child.pid"
    ex.submit([make(tasks.sleeper, str(pid_file), paths=paths)])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pids = [w.proc.pid for w in ex._workers]
    started = time.monotonic()
    ex.shutdown(kill=True)
    assert time.monotonic() - started < 10
    (outcome,) = ex.collect()
    assert outcome.state == State.FAILED
    assert outcome.interrupted
    assert outcome.error.kind == "interrupted"
    assert kit.wait_gone(int(pid_file.read_text()))
    assert not any(kit.alive(pid) for pid in pids)


def test_a_worker_killed_while_idle_is_replaced(executor, paths):
    victim = executor._workers[0].proc.pid
    os.kill(victim, signal.SIGKILL)
    assert kit.wait_gone(victim)
    time.sleep(0.2)
    assert executor.collect() == []
    works = [make(tasks.pid, paths=paths) for _ in range(4)]
    executor.submit(works)
    outcomes = kit.collect(executor, 4)
    assert all(o.state == State.SUCCEEDED for o in outcomes)
    assert victim not in [w.proc.pid for w in executor._workers]


def test_workers_and_their_children_die_with_the_driver(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, signal, sys, time
            from pathlib import Path
            from pauta.core.loading import load_file
            from pauta.executors.local import LocalExecutor

            if __name__ == "__main__":
                kit = load_file({str(Path(kit.__file__))!r})
                ex = LocalExecutor(workers=1, results_url={str(tmp_path / "res")!r})
                ex.start(kit.Wakeup())
                pid_file = Path({str(pid_file)!r})
                logs = Path({str(tmp_path / "logs")!r})
                ex.submit([kit.item(kit.tasks.sleeper, str(pid_file), log_dir=logs)])
                while not pid_file.exists() or not pid_file.read_text():
                    time.sleep(0.05)
                print(ex._workers[0].pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    worker_pid = int(out.stdout.strip())
    assert kit.wait_gone(worker_pid)
    assert kit.wait_gone(int(pid_file.read_text()))


def test_large_messages_both_ways(paths):
    ex = LocalExecutor(workers=1, results_url=str(paths["results"]), inline_max=4 << 20)
    ex.start(kit.Wakeup())
    store = ResultStore(str(paths["results"]))
    try:
        big = kit.run_one(ex, make(tasks.blob, 1_000_000, paths=paths))
        assert big.result.inline is not None
        assert store.get(big.result) == b"x" * 1_000_000
        works = [make(tasks.total, [len(b"a" * 3_000_000)], paths=paths) for _ in range(3)]
        ex.submit(works)
        assert [store.get(o.result) for o in kit.collect(ex, 3)] == [3_000_000] * 3
    finally:
        ex.shutdown()


def test_a_script_without_a_main_guard_fails_clearly(tmp_path):
    # The worker imports the script to find `add`; the script's unguarded top-level code then
    # tries to start a pool inside the worker, which would multiply processes: refused.
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from pauta.core.loading import load_file
            from pauta.executors.local import LocalExecutor

            def add(a, b):
                return a + b

            kit = load_file({str(Path(kit.__file__))!r})
            ex = LocalExecutor(workers=1, results_url={str(tmp_path / "res")!r})
            ex.start(kit.Wakeup())
            work = kit.item(add, 1, 2, log_dir=Path({str(tmp_path / "logs")!r}))
            outcome = kit.run_one(ex, work)
            ex.shutdown()
            print(outcome.state, outcome.error.type, outcome.error.message)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("FAILED pauta.core.errors.FlowLoadError"), out.stdout
    assert "keep the script's top-level code under `if __name__ == '__main__':`" in out.stdout


def test_a_task_defined_in_the_main_script_runs_in_a_worker(tmp_path):
    script = tmp_path / "guarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            from pathlib import Path
            from pauta.core.loading import load_file
            from pauta.executors.local import LocalExecutor
            from pauta.store.results import ResultStore

            class Point:
                def __init__(self, x):
                    self.x = x

            def where(x):
                return Point(x), __name__, os.getpid()

            if __name__ == "__main__":
                kit = load_file({str(Path(kit.__file__))!r})
                ex = LocalExecutor(workers=1, results_url={str(tmp_path / "res")!r})
                ex.start(kit.Wakeup())
                work = kit.item(where, 5, log_dir=Path({str(tmp_path / "logs")!r}))
                outcome = kit.run_one(ex, work)
                ex.shutdown()
                point, name, pid = ResultStore({str(tmp_path / "res")!r}).get(outcome.result)
                print(outcome.state, point.x, name, pid != os.getpid())
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    # The script is the worker's __main__ module under multiprocessing's name for it.
    assert out.stdout.split() == ["SUCCEEDED", "5", "__mp_main__", "True"]


def test_a_chain_runs_in_one_worker_and_waiting_work_grows_the_pool(paths):
    ex = LocalExecutor(workers=3, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())
    try:
        assert len(ex._workers) == 1  # one warm worker to begin with
        # A chain: each task is sent when the previous one has ended, so none ever waits.
        for i in range(150):
            assert kit.run_one(ex, make(tasks.add, i, 1, paths=paths)).state == State.SUCCEEDED
        assert len(ex._workers) == 1

        # Three tasks of 1.5 s at once: two wait for the worker, so the pool grows to run
        # them together.
        slow = [make(tasks.slow_value, i, 1.5, paths=paths) for i in range(3)]
        ex.submit(slow)
        outcomes = kit.collect(ex, 3)
        assert all(o.state == State.SUCCEEDED for o in outcomes)
        assert len(ex._workers) == 3
        # Generous bounds: they overlapped (run one after another they would take 4.5 s).
        assert max(o.started_at for o in outcomes) < min(o.ended_at for o in outcomes)
    finally:
        ex.shutdown()
