"""Flows and tasks the engine tests run in real worker processes (importable by name)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pauta import Resources, context, flow, task


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def boom(message: str = "boom") -> int:
    raise ValueError(message)


@task
def identity(value: object) -> object:
    return value


@task
def record(path: str, label: str) -> str:
    """Append ``label`` to a file, so tests can count executions and their order."""
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return label


@task(retries=2, retry_delay=0.0)
def flaky(path: str, failures: int) -> int:
    """Fails ``failures`` times (counted in a file), then succeeds with the attempt number."""
    counter = Path(path)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen < failures:
        raise ConnectionError(f"flaky failure {seen + 1}")
    return context().attempt


@task(retries=3, retry_delay=0.0, retry_on=(KeyError, OSError))
def fails_with(kind: str) -> None:
    errors = {"key": KeyError, "value": ValueError, "reset": ConnectionResetError}
    raise errors[kind]("nope")


@task
def crash() -> None:
    os._exit(7)


@task
def whoami() -> dict[str, object]:
    ctx = context()
    ctx.log_metric("answer", 42)
    print("hello from", ctx.task_key)
    ctx.logger.info("logged line")
    return {
        "run_id": ctx.run_id,
        "key": ctx.task_key,
        "attempt": ctx.attempt,
        "flow": ctx.flow_name,
    }


@task
async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


@task(resources=Resources(cpus=64))
def too_big() -> None:
    return None


@task(isolation="inline")
def in_driver() -> int:
    return os.getpid()


@task
def worker_pid() -> int:
    return os.getpid()


@flow
def sums(n: int = 3, offset: int = 10) -> int:
    parts = add.map(range(n), b=offset)
    return total(parts).result()


@task
def make_list(n: int) -> list[int]:
    return list(range(n))


@flow
def map_over_a_future(n: int = 3) -> int:
    parts = add.map(make_list(n), b=1)
    return total(parts).result()


@task
def pause(seconds: float) -> None:
    import time

    time.sleep(seconds)


class Box:
    """An object pauta does not look inside for futures."""

    def __init__(self, value: object) -> None:
        self.value = value


@flow
def own_result(hidden: bool = False) -> object:
    # the future goes into the task's own argument after the call: a cycle
    gate = pause(0.3)
    items: list[object] = []
    future = identity(Box(items) if hidden else items, wait_for=[gate])
    items.append(future)
    return future.result()


@flow
def hidden_future() -> object:
    # a future inside an object is no dependency: its task has not finished when this starts
    return identity(Box(pause(1.0))).result()


@flow
def nested_inputs() -> dict[str, int]:
    a, b = add(1, 2), add(3, 4)
    both = total([a, b])
    keyed = identity({"x": a, "y": [b, (a,)]})
    return {"both": both.result(), "keyed": keyed.result()}


@flow
def ordered(path: str) -> None:
    first = record(path, "first")
    record(path, "second", wait_for=[first])


@flow
def handled_failure() -> str:
    try:
        boom("expected").result()
    except Exception as exc:  # the flow handles it: the run succeeds
        return f"handled {type(exc).__name__}"
    return "unreachable"


@flow
def unobserved_failure() -> int:
    boom("nobody looks")
    return 1


@flow
def downstream_of_failure() -> None:
    bad = boom("root cause")
    add(bad, 1)
    add(1, 1).result()


@flow
def branching(fail: bool = True) -> str:
    first = boom("A failed") if fail else add(1, 1)
    first.wait()
    if first.state == "FAILED":
        return "ran C"
    return "ran B"


@flow
def retrying(path: str, failures: int = 2) -> int:
    return flaky(path, failures).result()


@flow
def retry_only_on(kind: str) -> None:
    fails_with(kind).result()


@flow
def crashing() -> int:
    crash()
    return add(2, 2).result()


@flow
def contexts() -> dict[str, object]:
    return whoami().result()


@flow
async def async_flow(x: int = 2) -> int:
    return await async_double(x)


@flow
def child(x: int) -> int:
    return add(x, 100).result()


@flow
def parent(x: int = 1) -> int:
    return child(x) + child(x + 1)


@flow
def unschedulable() -> None:
    too_big().result()


@flow
def isolation_modes() -> dict[str, int]:
    return {"inline": in_driver().result(), "process": worker_pid().result()}


@flow
def returns_array(n: int) -> float:
    import numpy as np

    big = identity(np.ones(n, dtype=np.float64))
    return float(total_array(big).result())


@task
def total_array(array: object) -> float:
    import numpy as np

    assert isinstance(array, np.ndarray)
    return float(array.sum())


@task
def outer(x: int) -> int:
    return add(x, 1) * 2  # inside a task, another task is a plain function call


@flow
def calls_a_task(x: int) -> int:
    return outer(x).result()


@task(resources=Resources(cpus=1, gpus=1))
def visible_gpus(pause: float) -> str:
    import time

    time.sleep(pause)
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


@flow
def gpu_pair(pause: float = 0.3) -> list[str]:
    return [f.result() for f in [visible_gpus(pause), visible_gpus(pause)]]


@task(timeout=0.5)
def sleepy(seconds: float) -> str:
    import subprocess
    import time

    child = subprocess.Popen(["sleep", str(seconds)])
    print("child", child.pid, flush=True)
    time.sleep(seconds)
    return "woke"


@flow
def times_out(seconds: float = 30) -> str:
    return sleepy(seconds).result()


@task
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@flow(timeout=5)
def slow_flow() -> list[float]:
    naps = [nap(0.1), nap(30), nap(30)]
    return [f.result() for f in naps]


def record_event(event: object) -> None:
    """A callback: append the event to the file named by PAUTA_TEST_EVENTS."""
    import json

    with open(os.environ["PAUTA_TEST_EVENTS"], "a") as handle:
        handle.write(json.dumps(event.to_json()) + "\n")  # type: ignore[attr-defined]


def broken_callback(event: object) -> None:
    raise RuntimeError("this callback is broken")


@task(
    retries=1,
    retry_delay=0.0,
    on_success=record_event,
    on_failure=[broken_callback, record_event],
    on_retry=record_event,
)
def watched(fail_times: int, path: str) -> str:
    counter = Path(path)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen < fail_times:
        raise ValueError(f"failure {seen + 1}")
    return "ok"


@flow(on_success=record_event, on_failure=record_event)
def watched_flow(fail_times: int, path: str) -> str:
    return watched(fail_times, path).result()


@task(cache=True)
def expensive(x: int, path: str) -> int:
    with open(path, "a") as handle:
        handle.write(f"{x}\n")
    return x * x


@task(cache=True)
def double_it(value: int, path: str) -> int:
    with open(path, "a") as handle:
        handle.write(f"double {value}\n")
    return 2 * value


@flow
def cached_chain(x: int, path: str) -> int:
    return double_it(expensive(x, path), path).result()


@task(cache_key=lambda x, path: str(x % 2), cache_expiration=60)
def parity(x: int, path: str) -> str:
    with open(path, "a") as handle:
        handle.write(f"parity {x}\n")
    return "odd" if x % 2 else "even"


@flow
def parities(xs: list[int], path: str) -> list[str]:
    results = []
    for x in xs:
        results.append(parity(x, path).result())  # one by one, so later calls see earlier ones
    return results


@task(cache=True, cache_expiration=0.5)
def short_lived(path: str) -> int:
    with open(path, "a") as handle:
        handle.write("ran\n")
    return 1


@flow
def expiring(path: str) -> int:
    return short_lived(path).result()


@task
def make_report(folder: str) -> str:
    path = Path(folder) / "report.txt"
    path.write_text("accuracy 0.93\n")
    context().log_artifact("report", str(path))
    context().log_artifact("confusion", {"tp": 40, "fp": 3, "fn": 5, "tn": 52})
    return "done"


@flow
def reporting(folder: str) -> str:
    return make_report(folder).result()


@task
def uses_a_secret() -> str:
    from pauta import secret

    return f"token is {secret('PAUTA_TEST_TOKEN')}"


@flow
def leaks_through_the_flow() -> str:
    return uses_a_secret().result()


@task
def fails_first_time(path: str) -> str:
    counter = Path(path)
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen == 0:
        raise RuntimeError("first run fails")
    return "second time lucky"


@flow(retries=1, on_failure=record_event, on_success=record_event)
def retried_flow(path: str, stable_path: str) -> str:
    stable = record(stable_path, "stable")
    return f"{stable.result()} {fails_first_time(path).result()}"


CHILD_TOKEN = "PAUTA_TEST_CHILD_TOKEN"


@task
def token_length(token: str) -> int:
    return len(token)


@flow
def uses_token(token: str) -> bool:
    # the child gets the real value; only what is stored and shown is masked
    from pauta import secret

    return token_length(token).result() == len(token) and token == secret(CHILD_TOKEN)


@flow
def passes_a_secret() -> bool:
    from pauta import secret

    return uses_token(secret(CHILD_TOKEN))
