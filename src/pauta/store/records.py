"""Plain records the store reads and writes; no SQLAlchemy objects leave the store."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pauta.core.states import FlowRunState, State
from pauta.store.results import StoredResult

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.store.reports import ArtifactRecord, MetricRecord, ParamRecord


@dataclass(frozen=True, slots=True)
class FlowRow:
    """A flow's definition as its row in ``flows`` records it (the ``paused`` flag aside).

    Every column is required, so a path that records a flow cannot leave one out: the row
    is replaced whole, and a column left at a default would silently clear what another path
    wrote (a manual run once cleared the ``max_active_runs`` that workers enforce).
    """

    name: str
    description: str
    parameters_schema: dict[str, Any]
    schedule: str | None
    timezone: str
    source: str | None
    max_active_runs: int | None

    @classmethod
    def of(cls, flow: Flow[Any, Any], source: str | None) -> FlowRow:
        """The row of ``flow``, defined in the file ``source``: the one place a flow's
        options become its row, for discovery and for ``pauta run`` alike."""
        options = flow.options
        schedule = None
        if options.schedule is not None or options.triggers:
            # here: importing schedules (cron, calendars) is for flows that have one
            from pauta.definitions.triggers import schedule_text

            schedule = schedule_text(options.schedule, options.triggers)
        return cls(
            name=flow.name,
            description=flow.description,
            # stored as JSON: defaults that JSON cannot hold become their text
            parameters_schema=json.loads(json.dumps(flow.parameters.json_schema(), default=str)),
            schedule=schedule,
            timezone=options.timezone,
            source=source,
            max_active_runs=options.max_active_runs,
        )

    def columns(self) -> dict[str, Any]:
        """The columns this row writes, by name (``name`` included)."""
        return asdict(self)


@dataclass(slots=True)
class FlowRunRecord:
    """One flow run.

    ``flow_ref`` says how to find the flow function again on resume:
    ``{"module": ..., "qualname": ..., "path": ...}``. ``schedule_key`` is set only for
    scheduled and backfill runs (unique: one run per flow and logical date).
    """

    id: str
    flow: str
    state: FlowRunState
    params: dict[str, Any]
    logical_date: datetime
    interval_start: datetime
    interval_end: datetime
    trigger: str
    created_at: datetime
    flow_ref: dict[str, Any] = field(default_factory=dict)
    code_hash: str = ""
    schedule_key: str | None = None
    parent_run_id: str | None = None
    parent_key: str | None = None
    triggered_by: str | None = None  # the run whose trigger_flow call queued this one
    triggered_by_key: str | None = None
    priority: int = 0
    tags: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    driver_host: str | None = None
    driver_pid: int | None = None
    lease_epoch: int = 0
    heartbeat_at: datetime | None = None
    result: StoredResult | None = None
    error: dict[str, Any] | None = None
    cancel_requested_at: datetime | None = None
    due_at: datetime | None = None  # scheduled runs: when a running scheduler saw the tick due
    deadline_at: datetime | None = None  # when the run must have finished by (@flow(deadline=))
    deadline_cancel: bool = False  # whether a run past its deadline is cancelled


@dataclass(slots=True)
class TaskRunRecord:
    """One task call in a flow run: the view of its latest attempt.

    ``key`` is unique in the run (task name, call count, map index). ``fingerprint`` hashes the
    call's inputs (upstream keys and literal arguments). ``upstream`` lists the keys it
    depends on (for graphs). ``kind`` is "task" or "flow" (a child flow call, whose run id is
    ``child_run_id``).
    """

    flow_run_id: str
    key: str
    name: str
    state: State
    attempts: int = 0
    map_index: int | None = None
    fingerprint: str = ""
    upstream: list[str] = field(default_factory=list)
    priority: int = 0
    resources: dict[str, Any] = field(default_factory=dict)
    kind: str = "task"
    child_run_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result: StoredResult | None = None
    error: dict[str, Any] | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    # what people read instead of the key (``@task(label=...)``); None shows the key
    label: str | None = None
    # the path of the task group it was called in (``train.forest``), or None
    group: str | None = None
    # a teardown call: it ran whatever happened before it, and its failure did not decide
    # the run's outcome (``@task(teardown=True)``, or called while the run was cancelled)
    teardown: bool = False
    # a user marked it SUCCEEDED instead of it running (``runs mark-success``): who and when
    marked_by: str | None = None
    marked_at: datetime | None = None


@dataclass(slots=True)
class AttemptRecord:
    """One attempt of one task call."""

    flow_run_id: str
    key: str
    attempt: int
    state: State
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: dict[str, Any] | None = None
    worker: str | None = None
    log_path: str | None = None
    # where it ran: this host's name, or the id of the Ray node that ran it
    node: str | None = None
    # the executor it ran with: local, inline, sensor, venv, container, ray, a plugin's name
    executor: str | None = None


@dataclass(slots=True)
class TaskWrite:
    """A task call's new view, to be written with compare-and-set.

    ``expected`` is the state the store must still hold (None: the row is new and is inserted).
    The same for the attempt row with ``attempt_expected``; ``attempt`` may be None when the
    attempt row is unchanged.
    """

    record: TaskRunRecord
    expected: State | None
    attempt: AttemptRecord | None = None
    attempt_expected: State | None = None
    # assets this write updates: the names a task's ``outputs`` declare, given when the call
    # becomes SUCCEEDED; each is recorded as an event in the same transaction
    assets: tuple[str, ...] = ()


@dataclass(slots=True)
class WriteBatch:
    """Everything one group commit writes, in one transaction.

    ``fences`` maps each run with writes to the lease epoch of the driver writing them; the
    write is refused (``LeaseLostError``) when another driver took the run over.
    """

    fences: dict[str, int] = field(default_factory=dict)
    tasks: list[TaskWrite] = field(default_factory=list)
    metrics: list[MetricRecord] = field(default_factory=list)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    params: list[ParamRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tasks or self.metrics or self.artifacts or self.params)
