"""Rows and records: how runs and task calls travel between the tables and ``records``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pauta.core.errors import StoreError
from pauta.core.states import FlowRunState, State
from pauta.store import transitions
from pauta.store.records import (
    FlowRunRecord,
    TaskRunRecord,
)
from pauta.store.results import StoredResult
from pauta.store.tables import (
    events,
    flow_runs,
    task_runs,
)
from pauta.store.types import UTCDateTime

if TYPE_CHECKING:
    pass


class DuplicateRunError(StoreError):
    """A run with the same schedule key (flow + logical date) exists already."""


def _result(
    uri: str | None, inline: bytes | None, size: int | None, serializer: str, preview: str
) -> StoredResult | None:
    if size is None:
        return None
    return StoredResult(
        uri=uri,
        inline=bytes(inline) if inline is not None else None,  # psycopg gives memoryview
        size=size,
        serializer=serializer or "",
        preview=preview or "",
    )


def flow_run_row(rec: FlowRunRecord) -> dict[str, Any]:
    row = {c.name: getattr(rec, c.name) for c in flow_runs.c if hasattr(rec, c.name)}
    row["state"] = str(rec.state)
    row.update(transitions.result_values(rec.result))
    return row


# Rows of ``select(flow_runs)`` are read by position: listing a page of runs spent most of its
# time looking columns up by name.
_RUN_COLUMNS = [c.name for c in flow_runs.c]
_RUN_FIELDS = tuple(
    (name, _RUN_COLUMNS.index(name))
    for name in FlowRunRecord.__slots__  # type: ignore[attr-defined]
    if name in _RUN_COLUMNS and name != "state"
)
_RUN_STATE = _RUN_COLUMNS.index("state")
# every column in table order, with the inline result left out (NULL) for listings
LISTED_RUN_COLUMNS = [
    sa.null().label(c.name) if c.name == "result_inline" else c for c in flow_runs.c
]
_RUN_RESULT = tuple(_RUN_COLUMNS.index(c) for c in transitions.RESULT_COLUMNS)


def flow_run_from_row(row: Any) -> FlowRunRecord:
    """A record from a row of ``select(flow_runs)`` (every column, in table order)."""
    values = tuple(row)
    fields = {name: values[i] for name, i in _RUN_FIELDS}
    result = _result(*(values[i] for i in _RUN_RESULT))
    return FlowRunRecord(**fields, state=FlowRunState(values[_RUN_STATE]), result=result)


# Selected in this order and unpacked by position: a run can have thousands of task rows, and
# reading a Row by attribute name costs more than everything else.
TASK_COLUMNS = [
    task_runs.c[name]
    for name in (
        "flow_run_id", "key", "name", "state", "attempts", "map_index", "fingerprint", "upstream",
        "priority", "resources", "kind", "child_run_id", "created_at", "started_at", "ended_at",
        *transitions.RESULT_COLUMNS, "error", "cache_key", "cached_from", "label", "task_group",
        "teardown", "marked_by", "marked_at",
    )
]  # fmt: skip


def task_run_record(row: Any) -> TaskRunRecord:
    (run, key, name, state, attempts, map_index, fingerprint, upstream, priority, resources, kind,
     child_run_id, created_at, started_at, ended_at, uri, inline, size, serializer, preview,
     error, cache_key, cached_from, label, group, teardown, marked_by, marked_at) = row  # fmt: skip
    return TaskRunRecord(
        flow_run_id=run,
        key=key,
        name=name,
        state=State(state),
        attempts=attempts,
        map_index=map_index,
        fingerprint=fingerprint,
        upstream=upstream,
        priority=priority,
        resources=resources,
        kind=kind,
        child_run_id=child_run_id,
        created_at=created_at,
        started_at=started_at,
        ended_at=ended_at,
        result=_result(uri, inline, size, serializer, preview),
        error=error,
        cache_key=cache_key,
        cached_from=cached_from,
        label=label,
        group=group,
        teardown=bool(teardown),
        marked_by=marked_by,
        marked_at=marked_at,
    )


def flow_end_event(run_id: str, state: FlowRunState, now: datetime) -> sa.Insert:
    """INSERT the "flow_run" event of a run that just ended, naming its flow."""
    r = flow_runs.c
    source = sa.select(
        sa.literal("flow_run"), r.flow, r.id, sa.literal(str(state)), sa.literal(now, UTCDateTime())
    ).where(r.id == run_id)
    columns = ["kind", "name", "flow_run_id", "state", "created_at"]
    return sa.insert(events).from_select(columns, source)


def as_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
