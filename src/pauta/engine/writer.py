"""Group commit of task states: what must be durable now, and what may wait.

A success and its result must be in the store before anything that depends on it starts, and
every end state is written promptly. QUEUED and RUNNING are only for people watching, so they
are written lazily: a call that moves through them and ends within ``lazy_interval`` is written
once, in its end state. Each write is a compare-and-set from the state the store last held,
fenced by the run's lease epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pauta.core.clock import Clock, from_timestamp
from pauta.core.errors import LeaseLostError, StaleWriteError
from pauta.core.states import State
from pauta.store.records import TaskWrite, WriteBatch

if TYPE_CHECKING:
    from datetime import datetime

    from pauta.engine.calls import TaskCall
    from pauta.executors.base import WorkOutcome
    from pauta.store.reports import ArtifactRecord, MetricRecord, ParamRecord
    from pauta.store.repository import Store

log = logging.getLogger("pauta.engine")

_LAZY_STATES = frozenset({State.PENDING, State.QUEUED, State.RUNNING})


class StateWriter:
    """Collects changed calls and metrics, and writes them in one transaction per flush."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        lazy_interval: float = 1.0,
        end_interval: float = 0.05,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lazy_interval = lazy_interval
        self.end_interval = end_interval
        self._urgent: dict[int, TaskCall] = {}
        self._lazy: dict[int, TaskCall] = {}
        self._metrics: list[MetricRecord] = []
        self._artifacts: list[ArtifactRecord] = []
        self._params: list[ParamRecord] = []
        self._lazy_since: float | None = None
        self._urgent_since: float | None = None

    def touch(self, call: TaskCall) -> None:
        """``call`` changed; it will be written by the next flush that concerns it."""
        key = id(call)
        if call.state in _LAZY_STATES:
            if key not in self._urgent and key not in self._lazy:
                self._lazy[key] = call
                if self._lazy_since is None:
                    self._lazy_since = self.clock.monotonic()
        else:
            self._lazy.pop(key, None)
            self._urgent[key] = call
            if self._urgent_since is None:
                self._urgent_since = self.clock.monotonic()

    def touch_all(self, calls: list[TaskCall]) -> None:
        touch = self.touch
        for call in calls:
            touch(call)

    def add_reports(
        self,
        metrics: list[MetricRecord],
        artifacts: list[ArtifactRecord],
        params: Sequence[ParamRecord] = (),
    ) -> None:
        """Metrics, artifacts and params an attempt logged; written with the next flush."""
        self._metrics.extend(metrics)
        self._artifacts.extend(artifacts)
        self._params.extend(params)
        if self._urgent_since is None:
            self._urgent_since = self.clock.monotonic()

    def forget(self, calls: list[TaskCall]) -> None:
        for call in calls:
            self._urgent.pop(id(call), None)
            self._lazy.pop(id(call), None)

    def lazy_deadline(self) -> float | None:
        """When the oldest lazily kept change must be written (monotonic seconds)."""
        if self._lazy_since is None:
            return None
        return self._lazy_since + self.lazy_interval

    def deadline(self) -> float | None:
        """When the next write is due even if nothing asks for it: end states within
        ``end_interval``, QUEUED/RUNNING within ``lazy_interval``."""
        due = [
            since + interval
            for since, interval in (
                (self._urgent_since, self.end_interval),
                (self._lazy_since, self.lazy_interval),
            )
            if since is not None
        ]
        return min(due) if due else None

    def flush(self, *, everything: bool, on_lost: Callable[[str, BaseException], None]) -> bool:
        """Write end states (and, when due or asked, the lazy ones); False if the store failed.

        A run whose lease was lost is reported through ``on_lost`` and its changes dropped: the
        run belongs to another driver now.
        """
        deadline = self.lazy_deadline()
        take_lazy = everything or (deadline is not None and self.clock.monotonic() >= deadline)
        calls = list(self._urgent.values())
        self._urgent = {}
        self._urgent_since = None
        if take_lazy:
            calls.extend(self._lazy.values())
            self._lazy = {}
            self._lazy_since = None
        metrics, self._metrics = self._metrics, []
        artifacts, self._artifacts = self._artifacts, []
        params, self._params = self._params, []
        if not calls and not metrics and not artifacts and not params:
            return True
        batch = WriteBatch(metrics=metrics, artifacts=artifacts, params=params)
        written = []
        for call in calls:
            run = call.run
            if run.lost is not None:
                continue
            batch.fences[run.run_id] = run.epoch
            attempt = call.attempt_record()
            if attempt is not None and call.state == State.RETRYING:
                attempt.state = State.FAILED  # the attempt failed; the call waits to retry
            same_attempt = call.attempt_persisted_no == call.attempt
            batch.tasks.append(
                TaskWrite(
                    call.record(),
                    call.persisted,
                    attempt,
                    call.attempt_persisted if same_attempt else None,
                    _updated_assets(call),
                )
            )
            written.append((call, attempt))
        try:
            if batch:
                self.store.write(batch, self.clock.now())
        except (LeaseLostError, StaleWriteError) as exc:
            for run_id in batch.fences:
                on_lost(run_id, exc)
            return True
        except Exception:
            log.exception("writing task states failed; will retry")
            for call, _ in written:
                self.touch(call)
            self._metrics[:0] = metrics
            self._artifacts[:0] = artifacts
            self._params[:0] = params
            return False
        for call, attempt in written:
            call.persisted = call.state
            if attempt is not None:
                call.attempt_persisted = attempt.state
                call.attempt_persisted_no = call.attempt
        return True


def outcome_reports(
    outcome: WorkOutcome, now: datetime
) -> tuple[list[MetricRecord], list[ArtifactRecord], list[ParamRecord]]:
    """The metric, artifact and param records of what an attempt logged (stamped ``now`` when
    the attempt gave no time)."""
    from pauta.store.reports import ArtifactRecord, MetricRecord, ParamRecord

    run_id, key, attempt = outcome.run_id, outcome.key, outcome.attempt
    metrics = [
        MetricRecord(
            run_id,
            key,
            attempt,
            metric.name,
            metric.value,
            metric.step,
            from_timestamp(metric.timestamp) or now,
        )
        for metric in outcome.metrics
    ]
    artifacts = [
        ArtifactRecord(
            run_id,
            key,
            attempt,
            artifact.name,
            artifact.stored,
            from_timestamp(artifact.timestamp) or now,
        )
        for artifact in outcome.artifacts
    ]
    params = [ParamRecord(run_id, key, name, value) for name, value in outcome.params]
    return metrics, artifacts, params


def _updated_assets(call: TaskCall) -> tuple[str, ...]:
    """The assets a call's success updates, once: when SUCCEEDED is first written."""
    task = call.task
    if call.state != State.SUCCEEDED or call.persisted == State.SUCCEEDED or task is None:
        return ()
    return tuple(asset.name for asset in task.options.outputs)
