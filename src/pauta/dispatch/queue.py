"""The ready queue: which waiting tasks start now, given free capacity, limits and ``now``.

Pure: no I/O and no clock reads. The engine loop (and later a distributed executor) pushes
tasks whose inputs are ready, calls :meth:`ReadyQueue.pick` with what is free, starts what it
returns, and tells :class:`RunningCounts` when tasks start and finish.

The policy (documented with a worked example in ``docs/dispatch.md``):

* Tasks are considered in strict order: higher ``priority`` first, then older ``enqueued_at``,
  then push order.
* A task starts when its pool has free slots, its group and concurrency key are under their
  limits, and its resources fit in what is free (free shrinks as picks take it).
* The *head* is the first task in that order whose limits allow it but whose resources do not
  fit. Tasks behind it may start in the idle capacity (backfilling). Once the head has waited
  ``reservation_after`` seconds, its request is set aside from what is free: tasks behind it
  may only use what would be left after the head started, so free capacity only grows toward
  the head's request as running tasks finish, and the head cannot starve.

``policy="fifo"`` is plain first-come first-served, kept for comparison: tasks in the order
they became ready (``enqueued_at``, then push order), priority ignored, and the first task
whose limits allow it but whose resources do not fit stops the pick (no backfilling).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from itertools import count
from typing import TypeAlias

from pauta.core.errors import DefinitionError, ResourceError
from pauta.core.resources import Resources, format_memory

_EPS = 1e-9

POLICIES = ("priority", "fifo")

# A queued task's heap entry: [rank, enqueued_at, seq, task or None once removed, lane], where
# rank is -priority (0 under "fifo"). seq is unique, so comparisons never reach the task or
# the lane.
_Entry: TypeAlias = list

# What makes two tasks interchangeable for packing: the same request and the same limits.
_LaneKey: TypeAlias = tuple[
    Resources, str | None, int, str | None, int | None, str | None, int | None
]


@dataclass(slots=True)
class ReadyTask:
    """A task whose inputs are ready and that waits for capacity.

    ``id`` is whatever the caller uses to find the task again (the engine uses
    ``(run_id, key)``). ``priority`` is higher-first (the engine passes task priority plus flow
    priority); ``enqueued_at`` is in monotonic seconds, the same clock as ``now`` in ``pick``.
    ``pool``/``pool_slots`` take slots from a named pool; ``group``/``group_limit`` cap the
    tasks of one flow run (``max_active_tasks``); ``concurrency_key``/``concurrency_limit`` cap
    the running calls of one task (``max_concurrency``). ``seq`` is assigned by the queue.
    """

    id: Hashable
    resources: Resources
    _: KW_ONLY
    priority: int = 0
    enqueued_at: float
    pool: str | None = None
    pool_slots: int = 1
    group: str | None = None
    group_limit: int | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    seq: int = field(default=-1, init=False, compare=False)


class RunningCounts:
    """What is running now per pool, group and concurrency key.

    The engine calls :meth:`started` for each task it starts from ``pick``'s answer and
    :meth:`finished` when it ends (whatever the outcome); ``pick`` only reads the counts.
    """

    __slots__ = ("_groups", "_keys", "_pools")

    def __init__(self) -> None:
        self._pools: dict[str, int] = {}
        self._groups: dict[str, int] = {}
        self._keys: dict[str, int] = {}

    def started(self, task: ReadyTask) -> None:
        """Count ``task`` as running."""
        if task.pool is not None:
            self._pools[task.pool] = self._pools.get(task.pool, 0) + task.pool_slots
        if task.group is not None:
            self._groups[task.group] = self._groups.get(task.group, 0) + 1
        if task.concurrency_key is not None:
            key = task.concurrency_key
            self._keys[key] = self._keys.get(key, 0) + 1

    def finished(self, task: ReadyTask) -> None:
        """Stop counting ``task``; raises ValueError if it was never counted as started."""
        if task.pool is not None:
            _decrement(self._pools, task.pool, task.pool_slots, task)
        if task.group is not None:
            _decrement(self._groups, task.group, 1, task)
        if task.concurrency_key is not None:
            _decrement(self._keys, task.concurrency_key, 1, task)

    def pool_slots_used(self, pool: str) -> int:
        return self._pools.get(pool, 0)

    def group_running(self, group: str) -> int:
        return self._groups.get(group, 0)

    def concurrency_running(self, key: str) -> int:
        return self._keys.get(key, 0)


def _decrement(counts: dict[str, int], name: str, amount: int, task: ReadyTask) -> None:
    left = counts.get(name, 0) - amount
    if left < 0:
        raise ValueError(f"task {task.id!r} finished in {name!r} but was never counted as started")
    if left:
        counts[name] = left
    else:
        del counts[name]  # keep the dicts as small as what runs


class _Lane:
    """The queued tasks that share one ``_LaneKey``, in order.

    If the best task of a lane cannot start, no other task of the lane can start in the same
    pick (free only shrinks and counts only grow during a pick), so pick skips whole lanes:
    10,000 identical tasks cost one check, not 10,000.
    """

    __slots__ = ("heap", "key", "live")

    def __init__(self, key: _LaneKey) -> None:
        self.key = key
        self.heap: list[_Entry] = []
        self.live = 0

    def clean_top(self) -> None:
        heap = self.heap
        while heap and heap[0][3] is None:
            heapq.heappop(heap)


class ReadyQueue:
    """Ready tasks in priority order, and the packing policy that picks which start now.

    ``total`` is the capacity of the biggest worker: a task that asks for more can never run
    and is refused at ``push``; None where the caller checks that itself (a cluster, whose
    nodes come and go). ``reservation_after`` bounds how long smaller tasks may
    overtake the head (0 reserves at once; ``float("inf")`` never reserves and may starve big
    tasks). ``scan_limit`` bounds how many blocked lanes one pick looks past, so a pick costs
    the same however long the queue is.

    ``policy`` is ``"priority"`` (the policy above) or ``"fifo"``: first come, first served,
    priority ignored, and the first task that does not fit blocks every task behind it (tasks
    waiting for a pool slot or a limit are still skipped); ``reservation_after`` does not
    apply to it.
    """

    def __init__(
        self,
        total: Resources | None,
        *,
        reservation_after: float = 30.0,
        scan_limit: int = 1000,
        policy: str = "priority",
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(
                f"unknown dispatch policy {policy!r}: use 'priority' (priority order with "
                "bounded backfilling, the default) or 'fifo' (first come, first served)"
            )
        if reservation_after < 0:
            raise ValueError(f"reservation_after must be >= 0 seconds, not {reservation_after!r}")
        if scan_limit < 1:
            raise ValueError(f"scan_limit must be >= 1, not {scan_limit!r}")
        self.total = total
        self.reservation_after = reservation_after
        self.scan_limit = scan_limit
        self.policy = policy
        self._fifo = policy == "fifo"
        self._seq = count()
        self._index: dict[Hashable, _Entry] = {}
        self._lanes: dict[_LaneKey, _Lane] = {}
        # One entry per lane head, (rank, enqueued_at, seq, lane). Entries go stale when a
        # lane's head changes; they are dropped when they surface, or in _compact.
        self._heads: list[tuple[int, float, int, _Lane]] = []
        # cpus requested per lane -> number of lanes: the smallest bounds what can still fit.
        self._lane_cpus: dict[float, int] = {}

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._index

    def push(self, task: ReadyTask) -> None:
        """Queue ``task``; raises ResourceError if it can never fit, DefinitionError on a bad
        limit, ValueError if a task with the same id is already queued."""
        if task.id in self._index:
            raise ValueError(f"task {task.id!r} is already in the ready queue")
        _check_limits(task)
        if self.total is not None and not task.resources.fits_in(self.total):
            raise ResourceError(_never_fits(task, self.total))
        key: _LaneKey = (
            task.resources,
            task.pool,
            task.pool_slots if task.pool is not None else 0,
            task.group,
            task.group_limit if task.group is not None else None,
            task.concurrency_key,
            task.concurrency_limit if task.concurrency_key is not None else None,
        )
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key)
            cpus = task.resources.cpus
            self._lane_cpus[cpus] = self._lane_cpus.get(cpus, 0) + 1
        task.seq = next(self._seq)
        rank = 0 if self._fifo else -task.priority
        entry: _Entry = [rank, task.enqueued_at, task.seq, task, lane]
        self._index[task.id] = entry
        heapq.heappush(lane.heap, entry)
        lane.live += 1
        if lane.heap[0] is entry:
            self._push_head(lane)

    def tasks(self) -> list[ReadyTask]:
        """Every queued task, in no particular order."""
        return [entry[3] for entry in self._index.values()]

    def demand(self) -> list[tuple[Resources, int]]:
        """What the queued tasks ask for: each request with how many tasks ask for it."""
        counts: dict[Resources, int] = {}
        for lane in self._lanes.values():
            request = lane.key[0]
            counts[request] = counts.get(request, 0) + lane.live
        return list(counts.items())

    def remove(self, task_id: Hashable) -> bool:
        """Take a queued task out (cancelled); False if it was not queued."""
        entry = self._index.pop(task_id, None)
        if entry is None:
            return False
        lane: _Lane = entry[4]
        was_head = lane.heap[0] is entry
        entry[3] = None  # lazy deletion: the entry is skipped when it surfaces
        lane.live -= 1
        if lane.live == 0:
            self._drop_lane(lane)
        elif was_head:
            lane.clean_top()
            self._push_head(lane)
        elif len(lane.heap) > 2 * lane.live + 32:
            lane.heap = [e for e in lane.heap if e[3] is not None]
            heapq.heapify(lane.heap)
        return True

    def pick(
        self,
        free: Resources,
        *,
        running: RunningCounts,
        pools: Mapping[str, int],
        now: float,
        max_starts: int | None = None,
    ) -> list[ReadyTask]:
        """The tasks to start now, in order, taken out of the queue.

        ``free`` is the capacity not held by running tasks; ``pools`` maps pool names to slots
        (a pool not listed is not limited; a task asking for more slots than its pool has runs
        alone in it); ``now`` is on the clock of ``enqueued_at``.
        """
        if not self._index or max_starts == 0:
            return []
        if len(self._heads) > 4 * len(self._lanes) + 256:
            self._compact()
        heads = self._heads
        started: list[ReadyTask] = []
        extra_pool: dict[str, int] = {}  # what this pick started, on top of `running`
        extra_group: dict[str, int] = {}
        extra_key: dict[str, int] = {}
        blocked: list[tuple[int, float, int, _Lane]] = []
        seen: set[_Lane] = set()  # lanes blocked in this pick
        # The smallest cpu request among lanes only rises as lanes empty during the pick, so
        # it stays a safe bound for "nothing else can fit".
        min_cpus = min(self._lane_cpus)
        head_found = False
        while heads:
            item = heads[0]
            lane = item[3]
            if lane.live == 0 or lane.heap[0][2] != item[2] or lane in seen:
                heapq.heappop(heads)  # stale, or a duplicate of a lane already blocked
                continue
            entry = lane.heap[0]
            task: ReadyTask = entry[3]
            res, pool, slots, group, group_limit, ckey, climit = lane.key
            if (
                (pool is not None and not _pool_allows(pool, slots, pools, running, extra_pool))
                or (
                    group is not None
                    and group_limit is not None
                    and running.group_running(group) + extra_group.get(group, 0) >= group_limit
                )
                or (
                    ckey is not None
                    and climit is not None
                    and running.concurrency_running(ckey) + extra_key.get(ckey, 0) >= climit
                )
            ):
                # Waiting for a slot, not for capacity: it reserves nothing.
                blocked.append(heapq.heappop(heads))
                seen.add(lane)
                if len(blocked) >= self.scan_limit:
                    break
                continue
            if not res.fits_in(free):
                blocked.append(heapq.heappop(heads))
                seen.add(lane)
                if self._fifo:
                    break  # first come, first served: nothing overtakes it
                if not head_found:
                    head_found = True
                    if now - task.enqueued_at >= self.reservation_after:
                        # Set the head's request aside: later tasks only get what would be
                        # left after it starts (dimensions it is short of count as zero).
                        free = free.minus(res)
                        if free.cpus + _EPS < min_cpus:
                            break
                if len(blocked) >= self.scan_limit:
                    break
                continue
            heapq.heappop(heads)
            heapq.heappop(lane.heap)
            lane.live -= 1
            del self._index[task.id]
            started.append(task)
            free = free.minus(res)
            if pool is not None:
                extra_pool[pool] = extra_pool.get(pool, 0) + slots
            if group is not None:
                extra_group[group] = extra_group.get(group, 0) + 1
            if ckey is not None:
                extra_key[ckey] = extra_key.get(ckey, 0) + 1
            if lane.live == 0:
                self._drop_lane(lane)
            else:
                lane.clean_top()
                self._push_head(lane)
            if (max_starts is not None and len(started) >= max_starts) or (
                free.cpus + _EPS < min_cpus
            ):
                break
        for item in blocked:
            heapq.heappush(heads, item)
        return started

    def _push_head(self, lane: _Lane) -> None:
        rank, enqueued_at, seq = lane.heap[0][:3]
        heapq.heappush(self._heads, (rank, enqueued_at, seq, lane))

    def _drop_lane(self, lane: _Lane) -> None:
        del self._lanes[lane.key]
        cpus = lane.key[0].cpus
        left = self._lane_cpus[cpus] - 1
        if left:
            self._lane_cpus[cpus] = left
        else:
            del self._lane_cpus[cpus]
        lane.heap = []  # its entries in _heads are now stale (live == 0)

    def _compact(self) -> None:
        """Rebuild the head heap without stale entries, so it stays O(number of lanes)."""
        self._heads = []
        for lane in self._lanes.values():
            self._heads.append((*lane.heap[0][:3], lane))
        heapq.heapify(self._heads)


def _pool_allows(
    pool: str,
    slots: int,
    pools: Mapping[str, int],
    running: RunningCounts,
    extra: dict[str, int],
) -> bool:
    size = pools.get(pool)
    if size is None:
        return True
    if size <= 0:
        return False  # a pool set to 0 slots holds its tasks back
    # Clamped: a task asking for more slots than the pool has runs alone instead of never.
    return running.pool_slots_used(pool) + extra.get(pool, 0) + min(slots, size) <= size


def _check_limits(task: ReadyTask) -> None:
    for name, value, owner, owner_name in (
        ("pool_slots", task.pool_slots, "", ""),
        ("group_limit", task.group_limit, task.group, "group"),
        ("concurrency_limit", task.concurrency_limit, task.concurrency_key, "concurrency_key"),
    ):
        if value is not None and (isinstance(value, bool) or value < 1):
            raise DefinitionError(
                f"task {task.id!r} has {name}={value!r}: it must be a whole number >= 1, "
                "or it could never start"
            )
        if value is not None and owner is None:
            raise DefinitionError(f"task {task.id!r} has {name}={value} but no {owner_name}")


def _never_fits(task: ReadyTask, total: Resources | None) -> str:
    """A message that says what the task asks for, what the worker has, and what to do."""
    need, have = task.resources, total or Resources(cpus=0)
    short: list[str] = []
    if need.cpus > have.cpus + _EPS:
        short.append(f"cpus {need.cpus:g} > {have.cpus:g}")
    if need.memory > have.memory:
        short.append(f"memory {format_memory(need.memory)} > {format_memory(have.memory)}")
    if need.gpus > have.gpus:
        short.append(f"gpus {need.gpus} > {have.gpus}")
    for name, amount in sorted(need.custom.items()):
        if amount and amount > have.custom.get(name, 0) + _EPS:
            if name in have.custom:
                short.append(f"{name} {amount:g} > {have.custom[name]:g}")
            else:
                short.append(f"{name} {amount:g} (no worker declares {name!r})")
    return (
        f"task {task.id!r} asks for {need.describe()}, but the biggest worker has "
        f"{have.describe()} (too much: {'; '.join(short)}), so it could never start. "
        "Lower the task's resources=..., or declare more capacity with "
        "--cpus/--memory/--gpus/--resource NAME=AMOUNT."
    )
