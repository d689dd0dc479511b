"""Flows whose tasks run on the test cluster (loaded by path: their folder travels to Ray)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pauta import Resources, context, flow, task

# Set once per process that imports this module: a warm Ray worker imports it once.
IMPORTED_IN = f"{os.getpid()}:{time.monotonic_ns()}"


def _node() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


@task(executor="ray")
def square(x: int) -> dict[str, object]:
    return {"value": x * x, "pid": os.getpid(), "imported": IMPORTED_IN, "node": _node()}


@flow
def fan_out(n: int = 6) -> list[int]:
    found = [f.result() for f in square.map(list(range(n)))]
    return [int(v["value"]) for v in found]  # type: ignore[call-overload]


@task(executor="ray")
def imports(_: int) -> list[str]:
    return [str(os.getpid()), IMPORTED_IN]


@flow
def warm(n: int = 8) -> list[list[str]]:
    return [f.result() for f in imports.map(list(range(n)))]


@task(executor="ray", resources=Resources(cpus=1, custom={"node_b": 1}))
def on_b() -> str:
    return _node()


@flow
def pinned() -> str:
    return on_b().result()


@task(executor="ray", resources=Resources(cpus=0.5, gpus=1))
def gpu_devices() -> dict[str, object]:
    import ray

    return {
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "ray": [str(g) for g in ray.get_gpu_ids()],
        "node": _node(),
    }


@flow
def gpu() -> dict[str, object]:
    return gpu_devices().result()


@task(executor="ray", resources=Resources(cpus=1, gpus=8))
def huge() -> None: ...


@flow
def never_fits() -> None:
    huge().result()


def _nested_failure(x: int) -> None:
    raise ValueError(f"bad value {x} on the node")


@task(executor="ray")
def explodes(x: int) -> None:
    print("about to fail")
    _nested_failure(x)


@flow
def failing() -> None:
    explodes(7).result()


@task(executor="ray")
def chatty(word: str) -> str:
    print(f"printed on ray: {word}")
    context().logger.info("logged on ray: %s", word)
    return word.upper()


@flow
def talks(word: str = "hola") -> str:
    return chatty(word).result()


@task
def local_double(x: int) -> dict[str, object]:
    return {"value": 2 * x, "pid": os.getpid()}


@task
def local_again(found: dict[str, object]) -> dict[str, object]:
    return {"value": 2 * int(found["value"]), "pid": os.getpid()}  # type: ignore[call-overload]


@task(executor="ray")
def ray_add(found: dict[str, object], y: int) -> dict[str, object]:
    return {"value": int(found["value"]) + y, "node": _node(), "pid": os.getpid()}  # type: ignore[call-overload]


@flow
def mixed(x: int = 5) -> dict[str, object]:
    first = local_double(x)
    second = ray_add(first, 1)
    third = local_again(second)
    return {"first": first.result(), "second": second.result(), "third": third.result()}


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)


@task(executor="ray")
def hold(folder: str, name: str) -> str:
    """Note which node it runs on, then wait until the test says go."""
    (Path(folder) / f"started-{name}").write_text(_node())
    _wait_for(Path(folder) / "go")
    return _node()


@flow
def holders(folder: str, names: list[str]) -> list[str]:
    return [f.result() for f in [hold(folder, name) for name in names]]


@task(executor="ray", priority=0)
def low(folder: str, name: str) -> float:
    return time.time()


@task(executor="ray", priority=10)
def high(folder: str, name: str) -> float:
    return time.time()


@flow
def busy_cluster(folder: str, release: bool = True) -> dict[str, object]:
    """Fill both cpus, queue lows, then submit a high one once the cluster is full; the
    blockers end once the body (``release``) or the test writes ``go``."""
    blockers = [hold(folder, "a"), hold(folder, "b")]
    for name in ("a", "b"):
        _wait_for(Path(folder) / f"started-{name}")
    lows = [low(folder, f"low{i}") for i in range(3)]
    urgent = high(folder, "high")
    if release:
        (Path(folder) / "go").write_text("")
    return {
        "blockers": [b.result() for b in blockers],
        "lows": [f.result() for f in lows],
        "high": urgent.result(),
    }


@task(executor="ray", timeout=1)
def sleeps_long() -> None:
    time.sleep(60)


@flow
def times_out() -> None:
    sleeps_long().result()


@task(executor="ray")
def step(path: str, i: int, previous: int | None = None) -> int:
    with open(path, "a") as out:
        out.write(f"step{i}:start\n")
    time.sleep(0.4)
    with open(path, "a") as out:
        out.write(f"step{i}\n")
    print(f"step {i} done on ray")
    return i


@flow
def durable_on_ray(path: str, steps: int = 6) -> int:
    """A chain of Ray tasks that note when they start and end (the kill -9 test)."""
    last = None
    for i in range(steps):
        last = step(path, i, last)
    return last.result()  # type: ignore[union-attr]


@task
def plain_square(x: int) -> int:
    """No executor of its own: it runs where the run's default executor says."""
    return x * x


@flow
def plain_fan_out(n: int = 4) -> list[int]:
    return [f.result() for f in plain_square.map(list(range(n)))]


@task(executor="ray")
def hold_pid(folder: str) -> None:
    (Path(folder) / "pid").write_text(str(os.getpid()))
    time.sleep(120)


@flow(timeout=4)
def cancelled_on_ray(folder: str) -> None:
    """Its flow timeout cancels the Ray task it waits for."""
    hold_pid(folder).result()


@task(executor="ray")
def prints_then_waits(folder: str) -> str:
    print("first line, before the wait", flush=True)
    _wait_for(Path(folder) / "go", timeout=90)
    print("second line, after the wait")
    return "done"


@flow
def live_output(folder: str) -> str:
    return prints_then_waits(folder).result()
