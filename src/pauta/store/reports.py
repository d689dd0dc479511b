"""What tasks report (metrics, params, artifacts) and how the pages read runs back (the last
value of a metric per call, calls folded into groups): records a run that reports nothing and
shows nothing never loads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pauta.store.results import StoredResult


@dataclass(slots=True)
class MetricRecord:
    """A metric a task logged."""

    flow_run_id: str
    key: str
    attempt: int
    name: str
    value: float
    step: int | None
    logged_at: datetime


@dataclass(frozen=True, slots=True)
class ParamRecord:
    """A parameter a task logged with ``context().log_param`` (kept for the MLflow mirror)."""

    flow_run_id: str
    key: str
    name: str
    value: str


@dataclass(slots=True)  # not frozen: a large run reads ten thousand, frozen ones cost twice
class MetricValue:
    """The last value one task call logged for one metric, with the call's label.

    ``stepped`` says whether the call logged the metric with steps (a curve, read with
    ``Store.metric_steps``) rather than as one value."""

    flow_run_id: str
    key: str
    label: str | None
    name: str
    value: float
    step: int | None
    attempt: int
    stepped: bool


@dataclass(frozen=True, slots=True)
class CallGroup:
    """A task call, or every call of one ``.map`` folded into one (``mapped``).

    ``key`` is the call's key, or for a map the stem its calls' keys share (``process-0`` for
    ``process-0[0]`` … ``process-0[4999]``). ``states`` counts the calls by state. ``upstream``
    holds the keys of the groups they wait on (a mapped call's key as its map's stem).
    ``started_at`` is the first start, ``ended_at`` the last end (None while one has not
    ended); ``attempts`` counts the attempts of all its calls."""

    key: str
    name: str
    mapped: bool
    states: dict[str, int]
    upstream: list[str]
    label: str | None = None
    kind: str = "task"
    child_run_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = 0
    # the path of the task group its calls were made in (``train.forest``), or None
    group: str | None = None

    @property
    def total(self) -> int:
        return sum(self.states.values())


@dataclass(slots=True)
class ArtifactRecord:
    """An artifact a task kept: where it is stored, its size and a preview."""

    flow_run_id: str
    key: str
    attempt: int
    name: str
    stored: StoredResult
    logged_at: datetime
