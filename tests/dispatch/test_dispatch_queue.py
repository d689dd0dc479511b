"""The ready queue's policy, as tables: order, packing, backfilling, reservation, limits."""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping

import pytest

from pauta.core.errors import DefinitionError, ResourceError
from pauta.core.resources import Resources
from pauta.dispatch.queue import ReadyQueue, ReadyTask, RunningCounts

BIG = Resources(cpus=100, memory="100GiB", gpus=8, custom={"db_conn": 10})


def cpu(n: float, **kw: object) -> Resources:
    return Resources(cpus=n, **kw)  # type: ignore[arg-type]


def task(id: Hashable, res: Resources | float = 1.0, *, at: float = 0.0, **kw: object) -> ReadyTask:
    resources = res if isinstance(res, Resources) else cpu(res)
    return ReadyTask(id, resources, enqueued_at=at, **kw)  # type: ignore[arg-type]


def queue_of(tasks: list[ReadyTask], total: Resources = BIG, **kw: object) -> ReadyQueue:
    q = ReadyQueue(total, **kw)  # type: ignore[arg-type]
    for t in tasks:
        q.push(t)
    return q


def pick_ids(
    q: ReadyQueue,
    free: Resources = BIG,
    *,
    now: float = 0.0,
    running: RunningCounts | None = None,
    pools: Mapping[str, int] | None = None,
    max_starts: int | None = None,
) -> list[Hashable]:
    started = q.pick(
        free, running=running or RunningCounts(), pools=pools or {}, now=now, max_starts=max_starts
    )
    return [t.id for t in started]


# -- order -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        pytest.param(
            [task("a", priority=0), task("b", priority=5), task("c", priority=1)],
            ["b", "c", "a"],
            id="higher priority first",
        ),
        pytest.param(
            [task("a", at=3), task("b", at=1), task("c", at=2)],
            ["b", "c", "a"],
            id="older first among equal priority",
        ),
        pytest.param(
            [task("a"), task("b"), task("c")], ["a", "b", "c"], id="push order among equals"
        ),
        pytest.param(
            [task("a", priority=-1, at=0), task("b", priority=0, at=9)],
            ["b", "a"],
            id="priority beats age",
        ),
        pytest.param(
            # Same shape (one lane) and another shape: order is global, not per lane.
            [task("x0", 1, priority=0), task("y3", 2, priority=3), task("x5", 1, priority=5)],
            ["x5", "y3", "x0"],
            id="order across request shapes",
        ),
    ],
)
def test_pick_order(tasks: list[ReadyTask], expected: list[str]) -> None:
    assert pick_ids(queue_of(tasks)) == expected


def test_max_starts_keeps_the_rest_in_order() -> None:
    q = queue_of([task(i) for i in range(5)])
    assert pick_ids(q, max_starts=2) == [0, 1]
    assert pick_ids(q, max_starts=0) == []
    assert pick_ids(q) == [2, 3, 4]
    assert len(q) == 0


# -- packing -----------------------------------------------------------------------------------


SHAPES = [
    cpu(1),
    cpu(2, memory="3GiB"),
    cpu(0.5, gpus=1),
    cpu(0, custom={"db_conn": 1}),
    cpu(3, memory="1GiB", custom={"db_conn": 2}),
]


def _sum(tasks: list[ReadyTask]) -> Resources:
    total = Resources(cpus=0)
    for t in tasks:
        total = total.plus(t.resources)
    return total


@pytest.mark.parametrize("seed", range(30))
def test_picked_resources_never_exceed_free(seed: int) -> None:
    rng = random.Random(seed)
    total = Resources(cpus=8, memory="16GiB", gpus=2, custom={"db_conn": 3})
    q = queue_of([task(i, rng.choice(SHAPES), at=rng.random()) for i in range(40)], total)
    free = Resources(
        cpus=rng.choice([0, 1, 2.5, 8]),
        memory=rng.choice([0, 2**30, 16 * 2**30]),
        gpus=rng.randrange(3),
        custom={"db_conn": rng.randrange(4)},
    )
    started = q.pick(free, running=RunningCounts(), pools={}, now=rng.choice([0, 100]))
    assert _sum(started).fits_in(free)
    # Whatever was left would not have fit in what remained (nothing idle by mistake).
    left = free.minus(_sum(started))
    still_fit = q.pick(left, running=RunningCounts(), pools={}, now=0)
    assert _sum(still_fit).fits_in(left)


@pytest.mark.parametrize(
    ("total", "free", "tasks", "expected"),
    [
        pytest.param(
            Resources(cpus=8, custom={"db_conn": 2}),
            Resources(cpus=8, custom={"db_conn": 2}),
            [task(i, cpu(0.5, custom={"db_conn": 1})) for i in range(4)],
            [0, 1],
            id="custom resource caps the starts",
        ),
        pytest.param(
            Resources(cpus=8, gpus=2),
            Resources(cpus=8, gpus=2),
            [*(task(f"g{i}", cpu(1, gpus=1)) for i in (1, 2, 3)), task("c1", 1), task("c2", 1)],
            ["g1", "g2", "c1", "c2"],
            id="two GPUs run two GPU tasks, cpu tasks still fill cpus",
        ),
        pytest.param(
            Resources(cpus=8, gpus=1),
            Resources(cpus=8, gpus=0),
            [task("g", cpu(1, gpus=1)), task("c", 1)],
            ["c"],
            id="no free GPU",
        ),
        pytest.param(
            Resources(cpus=4, memory="8GiB"),
            Resources(cpus=4, memory="3GiB"),
            [task(i, cpu(1, memory="1GiB")) for i in range(4)],
            [0, 1, 2],
            id="memory caps the starts",
        ),
        pytest.param(
            Resources(cpus=4),
            Resources(cpus=0),
            [task("io", 0), task("c", 1), task("io2", 0)],
            ["io", "io2"],
            id="zero-cpu tasks start with no cpu free",
        ),
    ],
)
def test_resources_decide(
    total: Resources, free: Resources, tasks: list[ReadyTask], expected: list[str]
) -> None:
    assert pick_ids(queue_of(tasks, total), free) == expected


# -- backfilling and reservation ---------------------------------------------------------------

EIGHT = Resources(cpus=8, memory="16GiB", gpus=1)


@pytest.mark.parametrize(
    ("free", "tasks", "now", "reservation_after", "expected"),
    [
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("s1", 1, at=1), task("s2", 1, at=2), task("s3", at=3)],
            10.0,
            30.0,
            ["s1", "s2"],
            id="young head: smaller tasks fill the idle cpus",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("s1", 1, at=1), task("s2", 1, at=2)],
            30.0,
            30.0,
            [],
            id="head waited reservation_after: nothing overtakes it",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("s1", 1, at=1)],
            1e9,
            math.inf,
            ["s1"],
            id="reservation_after=inf always backfills",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("s1", 1, at=1)],
            0.0,
            0.0,
            [],
            id="reservation_after=0 reserves at once",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("urgent", 1, at=50, priority=5)],
            100.0,
            30.0,
            ["urgent"],
            id="a higher priority task is ahead of the head, not behind it",
        ),
        pytest.param(
            Resources(cpus=8, memory="16GiB", gpus=0),
            [task("gpu", cpu(2, gpus=1), at=0), *(task(f"s{i}", 1, at=1 + i) for i in range(8))],
            100.0,
            30.0,
            ["s0", "s1", "s2", "s3", "s4", "s5"],
            id="head waits for a GPU: cpu tasks may use the cpus it will not need",
        ),
        pytest.param(
            Resources(cpus=8, memory="4GiB"),
            [
                task("bigmem", cpu(1, memory="10GiB"), at=0),
                task("m1", cpu(1, memory="1GiB"), at=1),
                task("nomem", 1, at=2),
            ],
            100.0,
            30.0,
            ["nomem"],
            id="head short of memory: tasks that need no memory still start",
        ),
        pytest.param(
            Resources(cpus=8, memory="4GiB"),
            [
                task("bigmem", cpu(1, memory="10GiB"), at=0),
                task("m1", cpu(1, memory="1GiB"), at=1),
                task("nomem", 1, at=2),
            ],
            10.0,
            30.0,
            ["m1", "nomem"],
            id="young memory head: backfill uses the memory",
        ),
        pytest.param(
            cpu(2),
            [task("s1", 1, at=5), task("big", 4, at=0, priority=-1), task("s2", at=6, priority=-1)],
            100.0,
            30.0,
            ["s1"],
            id="tasks ahead of the head start, tasks behind the old head do not",
        ),
    ],
)
def test_backfill_and_reservation(
    free: Resources,
    tasks: list[ReadyTask],
    now: float,
    reservation_after: float,
    expected: list[str],
) -> None:
    q = queue_of(tasks, EIGHT, reservation_after=reservation_after)
    assert pick_ids(q, free, now=now) == expected


def _starvation_start(
    reservation_after: float, until: float = 120.0, policy: str = "priority"
) -> float | None:
    """Simulate a 4-cpu worker fed one 1-cpu, 1-second task every 0.25 s (exactly its
    throughput, so some cpu is always busy), with one 4-cpu task queued at t=0.25, once the
    stream has started. Returns when the big task started, or None if it never did."""
    total = Resources(cpus=4)
    q = ReadyQueue(total, reservation_after=reservation_after, policy=policy)
    running = RunningCounts()
    ends: list[tuple[float, ReadyTask]] = []
    step, big_start = 0.25, None
    for i in range(int(until / step)):
        now = i * step
        for end, t in [e for e in ends if e[0] <= now]:
            running.finished(t)
            ends.remove((end, t))
        if i == 1:
            q.push(task("big", 4, at=now))
        q.push(task(f"s{i}", 1, at=now))
        used = Resources(cpus=0)
        for _, t in ends:
            used = used.plus(t.resources)
        for t in q.pick(total.minus(used), running=running, pools={}, now=now):
            running.started(t)
            duration = 5.0 if t.id == "big" else 1.0
            ends.append((now + duration, t))
            if t.id == "big":
                big_start = now
    return big_start


def test_head_does_not_starve() -> None:
    start = _starvation_start(reservation_after=30.0)
    # Reserved at t=30.25; the four running 1-second tasks drain within the next second.
    assert start is not None
    assert 30.25 <= start <= 31.25


def test_without_reservation_the_head_starves() -> None:
    # The same stream with reservation turned off: small tasks keep overtaking it.
    assert _starvation_start(reservation_after=math.inf) is None


def test_scan_limit_bounds_how_far_backfill_looks() -> None:
    blocked = [task(f"b{i}", 3 + i * 0.1, at=i) for i in range(5)]  # five lanes, none fit
    small = task("small", 1, at=10)
    near = queue_of([*blocked, small], EIGHT, scan_limit=3)
    assert pick_ids(near, cpu(2)) == []
    far = queue_of([task(f"b{i}", 3 + i * 0.1, at=i) for i in range(5)], EIGHT, scan_limit=10)
    far.push(task("small", 1, at=10))
    assert pick_ids(far, cpu(2)) == ["small"]


class CountingResources(Resources):
    """Counts fits_in checks, to prove a pick does not rescan identical tasks."""

    checks = 0

    def fits_in(self, free: Resources) -> bool:
        CountingResources.checks += 1
        return Resources.fits_in(self, free)


def test_identical_tasks_are_not_rescanned() -> None:
    shape = CountingResources(cpus=1)
    q = queue_of([task(i, shape, at=i * 1e-3) for i in range(10_000)], EIGHT)
    CountingResources.checks = 0
    picks = 0
    while q:
        assert len(q.pick(cpu(2), running=RunningCounts(), pools={}, now=100.0)) == 2
        picks += 1
    assert picks == 5_000
    assert CountingResources.checks <= 3 * picks  # two that fit, at most one that does not


# -- fifo, for comparison ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("free", "tasks", "pools", "running", "expected"),
    [
        pytest.param(
            BIG,
            [task("a", priority=0), task("b", priority=5), task("c", priority=1)],
            {},
            [],
            ["a", "b", "c"],
            id="priority ignored",
        ),
        pytest.param(
            BIG,
            [task("a", at=3), task("b", at=1), task("c", at=2), task("d", at=1)],
            {},
            [],
            ["b", "d", "c", "a"],
            id="older first, then push order",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("s1", 1, at=1), task("s2", 1, at=2)],
            {},
            [],
            [],
            id="the first task that does not fit blocks the rest",
        ),
        pytest.param(
            cpu(3),
            [task("s1", 1, at=0), task("big", 4, at=1), task("s2", 1, at=2)],
            {},
            [],
            ["s1"],
            id="tasks ahead of the blocker start",
        ),
        pytest.param(
            cpu(2),
            [task("big", 4, at=0), task("urgent", 1, at=1, priority=9)],
            {},
            [],
            [],
            id="a higher priority does not overtake the blocker",
        ),
        pytest.param(
            Resources(cpus=8, memory="16GiB", gpus=0),
            [task("gpu", cpu(1, gpus=1), at=0), task("c", 1, at=1)],
            {},
            [],
            [],
            id="short in any dimension blocks, even one the rest do not use",
        ),
        pytest.param(
            cpu(0),
            [task("c", 1, at=0), task("io", 0, at=1)],
            {},
            [],
            [],
            id="zero-cpu tasks behind the blocker wait too",
        ),
        pytest.param(
            cpu(4),
            [task("a", 2, at=0), task("b", 2, at=1), task("c", 1, at=2)],
            {},
            [],
            ["a", "b"],
            id="exact fit, then the next one blocks",
        ),
        pytest.param(
            BIG,
            [task("p1", pool="db", at=0), task("p2", pool="db", at=1), task("free", at=2)],
            {"db": 1},
            [],
            ["p1", "free"],
            id="a task waiting for a pool slot does not block",
        ),
        pytest.param(
            cpu(2),
            [task("p", pool="db", at=0), task("big", 4, at=1), task("s", 1, at=2)],
            {"db": 0},
            [],
            [],
            id="skipped for a slot, then blocked by capacity",
        ),
        pytest.param(
            BIG,
            [
                task(f"{g}{i}", at=k, group=g, group_limit=2)
                for k, (g, i) in enumerate([("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)])
            ],
            {},
            [],
            ["a1", "a2", "b1", "b2"],
            id="group limit still applies",
        ),
        pytest.param(
            BIG,
            [
                task(g, at=k, concurrency_key="train", concurrency_limit=1)
                for k, g in enumerate("ab")
            ],
            {},
            [task("r", concurrency_key="train", concurrency_limit=1)],
            [],
            id="concurrency limit counts running tasks",
        ),
    ],
)
def test_fifo(
    free: Resources,
    tasks: list[ReadyTask],
    pools: dict[str, int],
    running: list[ReadyTask],
    expected: list[str],
) -> None:
    q = queue_of(tasks, BIG, policy="fifo")
    assert pick_ids(q, free, running=_running(*running), pools=pools, now=1e9) == expected


def test_fifo_blocker_starts_first_once_capacity_frees() -> None:
    q = queue_of(
        [task("s0", 2, at=0), task("big", 8, at=1), task("s1", 1, at=2)], EIGHT, policy="fifo"
    )
    assert pick_ids(q, cpu(8)) == ["s0"]
    assert pick_ids(q, cpu(6)) == []
    assert pick_ids(q, cpu(8)) == ["big"]
    assert pick_ids(q, cpu(0)) == []
    assert pick_ids(q, cpu(1)) == ["s1"]
    assert len(q) == 0


def test_fifo_does_not_starve_but_waits_for_the_running_tasks() -> None:
    # Pushed at t=0.25 behind s0 (running until t=1): it starts as soon as s0 ends.
    assert _starvation_start(reservation_after=math.inf, policy="fifo") == 1.0


def test_fifo_remove_and_max_starts() -> None:
    q = queue_of([task(i, at=i, priority=-i) for i in range(6)], policy="fifo")
    assert q.remove(0)
    assert q.remove(3)
    assert pick_ids(q, max_starts=2) == [1, 2]
    assert pick_ids(q) == [4, 5]


def test_fifo_picks_do_not_rescan() -> None:
    shape = CountingResources(cpus=1)
    q = queue_of([task(i, shape, at=i * 1e-3) for i in range(10_000)], EIGHT, policy="fifo")
    CountingResources.checks = 0
    picks = 0
    while q:
        assert len(q.pick(cpu(2), running=RunningCounts(), pools={}, now=0.0)) == 2
        picks += 1
    assert CountingResources.checks <= 3 * picks


def test_fifo_skips_a_full_group_as_one_lane() -> None:
    # 5,000 queued tasks of one run capped at 1 running, then one task of another run.
    shape = CountingResources(cpus=1)
    tasks = [task(i, shape, at=i, group="a", group_limit=1) for i in range(5_000)]
    q = queue_of([*tasks, task("b", shape, at=9_999)], EIGHT, policy="fifo")
    running = _running(task("ra", group="a", group_limit=1))
    CountingResources.checks = 0
    assert pick_ids(q, cpu(8), running=running) == ["b"]
    assert CountingResources.checks <= 1


# -- pools, groups, concurrency ---------------------------------------------------------------


def _running(*tasks: ReadyTask) -> RunningCounts:
    counts = RunningCounts()
    for t in tasks:
        counts.started(t)
    return counts


@pytest.mark.parametrize(
    ("tasks", "pools", "running", "expected"),
    [
        pytest.param(
            [task(i, pool="db") for i in range(5)], {"db": 2}, [], [0, 1], id="pool of 2 slots"
        ),
        pytest.param(
            [task(i, pool="db") for i in range(5)],
            {"db": 2},
            [task("r", pool="db")],
            [0],
            id="a running task holds a slot",
        ),
        pytest.param(
            [task(i, pool="db", pool_slots=2) for i in range(3)],
            {"db": 4},
            [],
            [0, 1],
            id="pool_slots=2 takes two slots",
        ),
        pytest.param(
            [task(i, pool="db") for i in range(3)], {"db": 0}, [], [], id="pool of 0 holds all"
        ),
        pytest.param(
            [task(i, pool="db", pool_slots=3) for i in range(2)],
            {"db": 2},
            [],
            [0],
            id="more slots than the pool has: runs alone",
        ),
        pytest.param(
            [task(i, pool="nope") for i in range(3)], {}, [], [0, 1, 2], id="unknown pool"
        ),
        pytest.param(
            [task("p1", pool="db", at=0), task("p2", pool="db", at=1), task("free", at=2)],
            {"db": 1},
            [],
            ["p1", "free"],
            id="tasks behind a full pool still start",
        ),
        pytest.param(
            [
                task(f"{g}{i}", at=k, group=g, group_limit=2)
                for k, (g, i) in enumerate(
                    [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)]
                )
            ],
            {},
            [],
            ["a1", "a2", "b1", "b2"],
            id="group limit per flow run",
        ),
        pytest.param(
            [task(f"a{i}", at=i, group="a", group_limit=2) for i in range(3)],
            {},
            [task("ra", group="a", group_limit=2)],
            ["a0"],
            id="group limit counts running tasks",
        ),
        pytest.param(
            [
                task(f"{g}", at=k, group=g, concurrency_key="train", concurrency_limit=1)
                for k, g in enumerate("abc")
            ],
            {},
            [],
            ["a"],
            id="concurrency limit across runs",
        ),
        pytest.param(
            [
                task("t1", concurrency_key="train", concurrency_limit=2, group="a", group_limit=1),
                task("t2", concurrency_key="train", concurrency_limit=2, group="a", group_limit=1),
                task("t3", concurrency_key="train", concurrency_limit=2, group="b", group_limit=1),
                task("t4", concurrency_key="train", concurrency_limit=2, group="c", group_limit=1),
            ],
            {},
            [],
            ["t1", "t3"],
            id="group and concurrency limits together",
        ),
    ],
)
def test_limits(
    tasks: list[ReadyTask],
    pools: dict[str, int],
    running: list[ReadyTask],
    expected: list[str],
) -> None:
    q = queue_of(tasks)
    assert pick_ids(q, running=_running(*running), pools=pools) == expected


def test_a_task_waiting_for_its_pool_reserves_nothing() -> None:
    q = queue_of([task("old", 4, at=0, pool="db"), task("s", 1, at=1)], EIGHT)
    assert pick_ids(q, cpu(2), now=100.0, pools={"db": 0}) == ["s"]


def test_running_counts_go_back_to_zero() -> None:
    t = task("t", pool="db", pool_slots=2, group="g", concurrency_key="k")
    counts = _running(t)
    assert (counts.pool_slots_used("db"), counts.group_running("g")) == (2, 1)
    assert counts.concurrency_running("k") == 1
    counts.finished(t)
    assert (counts.pool_slots_used("db"), counts.group_running("g")) == (0, 0)
    with pytest.raises(ValueError, match="never counted as started"):
        counts.finished(t)


# -- push errors and remove ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "total", "fragments"),
    [
        pytest.param(cpu(16), cpu(8), ["asks for cpus=16", "has cpus=8", "cpus 16 > 8"], id="cpus"),
        pytest.param(
            cpu(1, memory="64GiB"),
            cpu(8, memory="32GiB"),
            ["memory=64.0GiB", "memory 64.0GiB > 32.0GiB"],
            id="memory",
        ),
        pytest.param(cpu(1, gpus=2), cpu(8, gpus=1), ["gpus=2", "gpus 2 > 1"], id="gpus"),
        pytest.param(
            cpu(1, custom={"db_conn": 1}),
            cpu(8),
            ["db_conn=1", "no worker declares 'db_conn'"],
            id="undeclared custom",
        ),
        pytest.param(
            cpu(1, custom={"db_conn": 5}),
            cpu(8, custom={"db_conn": 4}),
            ["db_conn 5 > 4"],
            id="custom too small",
        ),
    ],
)
def test_a_task_that_can_never_fit_is_refused(
    request_: Resources, total: Resources, fragments: list[str]
) -> None:
    q = ReadyQueue(total)
    with pytest.raises(ResourceError) as info:
        q.push(task(("run-1", "train-0"), request_))
    message = str(info.value)
    for fragment in [
        "task ('run-1', 'train-0')",
        "biggest worker",
        "--cpus/--memory/--gpus/--resource",
        *fragments,
    ]:
        assert fragment in message
    assert len(q) == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"pool": "db", "pool_slots": 0}, DefinitionError),
        ({"group": "g", "group_limit": 0}, DefinitionError),
        ({"concurrency_key": "k", "concurrency_limit": 0}, DefinitionError),
        ({"group_limit": 2}, DefinitionError),
        ({"concurrency_limit": 2}, DefinitionError),
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match=r"must be a whole number >= 1|but no (group|concurrency_key)"):
        ReadyQueue(EIGHT).push(task("t", **kwargs))


def test_bad_queue_settings_and_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="reservation_after"):
        ReadyQueue(EIGHT, reservation_after=-1)
    with pytest.raises(ValueError, match=r"'lifo'.*'priority'.*'fifo'"):
        ReadyQueue(EIGHT, policy="lifo")
    with pytest.raises(ValueError, match="scan_limit"):
        ReadyQueue(EIGHT, scan_limit=0)
    q = queue_of([task("t")])
    with pytest.raises(ValueError, match="already in the ready queue"):
        q.push(task("t"))


def test_remove() -> None:
    q = queue_of([task("a", at=0), task("b", at=1), task("c", 2, at=2), task("d", at=3)])
    assert len(q) == 4
    assert q.remove("a")  # the head of its lane
    assert q.remove("c")  # the only task of its lane
    assert not q.remove("a")
    assert not q.remove("zzz")
    assert "b" in q
    assert "a" not in q
    assert len(q) == 2
    assert pick_ids(q, max_starts=1) == ["b"]
    q.push(task("a", at=0))  # the id can be queued again
    q.push(task("c", 2, at=2))
    assert pick_ids(q) == ["a", "c", "d"]
    assert len(q) == 0


def test_removing_many_keeps_order() -> None:
    q = queue_of([task(i, at=i) for i in range(200)])
    for i in range(0, 200, 3):
        assert q.remove(i)
    assert pick_ids(q, cpu(1000)) == [i for i in range(200) if i % 3]


# -- the policy against a brute-force reference ------------------------------------------------


def _reference_pick(
    queued: list[ReadyTask],
    free: Resources,
    running: RunningCounts,
    pools: Mapping[str, int],
    now: float,
    reservation_after: float,
    policy: str = "priority",
) -> list[Hashable]:
    """docs/dispatch.md's policies, written as plainly as possible: one pass in order."""
    extra: dict[tuple[str, str], int] = {}
    started: list[Hashable] = []
    head_seen = False

    def count(kind: str, name: str, running_now: int) -> int:
        return running_now + extra.get((kind, name), 0)

    fifo = policy == "fifo"
    for t in sorted(queued, key=lambda t: (0 if fifo else -t.priority, t.enqueued_at, t.seq)):
        if t.pool is not None and t.pool in pools:
            size = pools[t.pool]
            used = count("pool", t.pool, running.pool_slots_used(t.pool))
            if size <= 0 or used + min(t.pool_slots, size) > size:
                continue
        group, key = t.group, t.concurrency_key
        if (
            group is not None
            and t.group_limit is not None
            and count("group", group, running.group_running(group)) >= t.group_limit
        ):
            continue
        if (
            key is not None
            and t.concurrency_limit is not None
            and count("key", key, running.concurrency_running(key)) >= t.concurrency_limit
        ):
            continue
        if not t.resources.fits_in(free):
            if fifo:
                break
            if not head_seen:
                head_seen = True
                if now - t.enqueued_at >= reservation_after:
                    free = free.minus(t.resources)
            continue
        free = free.minus(t.resources)
        started.append(t.id)
        for kind, name, amount in (
            ("pool", t.pool, t.pool_slots),
            ("group", t.group, 1),
            ("key", t.concurrency_key, 1),
        ):
            if name is not None:
                extra[(kind, name)] = extra.get((kind, name), 0) + amount
    return started


@pytest.mark.parametrize("policy", ["priority", "fifo"])
@pytest.mark.parametrize("seed", range(25))
def test_matches_the_reference_policy(seed: int, policy: str) -> None:
    rng = random.Random(seed)
    total = Resources(cpus=8, memory="16GiB", gpus=2, custom={"db_conn": 3})
    q = ReadyQueue(total, reservation_after=5.0, policy=policy)
    queued: dict[Hashable, ReadyTask] = {}
    running = RunningCounts()
    in_flight: list[tuple[float, ReadyTask]] = []
    pools = {"db": 2, "api": 1}
    now, n = 0.0, 0
    for _ in range(80):
        for _ in range(rng.randrange(5)):
            group = rng.choice([None, "r1", "r2"])
            key = rng.choice([None, "train"])
            t = task(
                n,
                rng.choice(SHAPES),
                at=now,
                priority=rng.choice([0, 0, 1, 5]),
                pool=rng.choice([None, None, "db", "api"]),
                pool_slots=rng.choice([1, 1, 2]),
                group=group,
                group_limit=rng.choice([2, 3]) if group else None,
                concurrency_key=key,
                concurrency_limit=2 if key else None,
            )
            q.push(t)
            queued[n] = t
            n += 1
        if queued and rng.random() < 0.2:
            victim = rng.choice(list(queued))
            assert q.remove(victim)
            del queued[victim]
        for end, t in [e for e in in_flight if e[0] <= now]:
            running.finished(t)
            in_flight.remove((end, t))
        used = Resources(cpus=0)
        for _, t in in_flight:
            used = used.plus(t.resources)
        free = total.minus(used)
        expected = _reference_pick(list(queued.values()), free, running, pools, now, 5.0, policy)
        started = q.pick(free, running=running, pools=pools, now=now)
        assert [t.id for t in started] == expected
        for t in started:
            del queued[t.id]
            running.started(t)
            in_flight.append((now + rng.choice([0.5, 1.0, 3.0]), t))
        assert len(q) == len(queued)
        now += 0.5


def test_the_worked_example_in_the_docs() -> None:
    """docs/dispatch.md, "A worked example", step by step."""
    q = ReadyQueue(Resources(cpus=8, gpus=1), reservation_after=30.0)
    q.push(task("train", 7, at=10))
    for i in range(1, 7):
        q.push(task(f"etl-{i}", 1, at=10 + i))
    # t=20: A (4 cpus) runs; train is the head but young, so four etl tasks backfill.
    assert pick_ids(q, cpu(4), now=20) == ["etl-1", "etl-2", "etl-3", "etl-4"]
    # t=40: etl-1..4 ended, A still runs; train has waited 30 s: its 7 cpus are set aside.
    assert pick_ids(q, cpu(4), now=40) == []
    # t=50: A ended; train starts, and etl-5 takes the cpu it leaves.
    assert pick_ids(q, cpu(8), now=50) == ["train", "etl-5"]
    # Without the reservation, etl-5 and etl-6 start at t=40 and train waits past t=50.
    q = ReadyQueue(Resources(cpus=8, gpus=1), reservation_after=math.inf)
    for t in [task("train", 7, at=10), *(task(f"etl-{i}", 1, at=10 + i) for i in range(1, 7))]:
        q.push(t)
    assert pick_ids(q, cpu(4), now=20) == ["etl-1", "etl-2", "etl-3", "etl-4"]
    assert pick_ids(q, cpu(4), now=40) == ["etl-5", "etl-6"]
    assert pick_ids(q, cpu(6), now=50) == []


def test_the_gpu_example_in_the_docs() -> None:
    q = ReadyQueue(Resources(cpus=8, gpus=1), reservation_after=30.0)
    q.push(task("finetune-2", cpu(2, gpus=1), at=0))
    for i in range(1, 7):
        q.push(task(f"etl-{i}", 1, at=i))
    # t=40: finetune-1 holds the GPU and 2 cpus; 6 cpus are free, 2 of them set aside.
    assert pick_ids(q, Resources(cpus=6, gpus=0), now=40) == [f"etl-{i}" for i in range(1, 5)]
    # t=100: finetune-1 ended; its GPU and the 2 set-aside cpus are there for finetune-2.
    assert pick_ids(q, Resources(cpus=4, gpus=1), now=100) == ["finetune-2", "etl-5", "etl-6"]
