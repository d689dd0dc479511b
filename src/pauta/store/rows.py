"""Rows and records: how runs and task calls travel between the tables and ``records``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pauta.core.errors import StoreError
from pauta.core.states import FlowRunState
from pauta.store import transitions
from pauta.store.recordrows import TASK_COLUMN_NAMES, FlowRunReader
from pauta.store.records import FlowRunRecord
from pauta.store.tables import (
    events,
    flow_runs,
    task_runs,
)
from pauta.store.types import UTCDateTime


class DuplicateRunError(StoreError):
    """A run with the same schedule key (flow + logical date) exists already."""


def flow_run_row(rec: FlowRunRecord) -> dict[str, Any]:
    row = {c.name: getattr(rec, c.name) for c in flow_runs.c if hasattr(rec, c.name)}
    row["state"] = str(rec.state)
    row.update(transitions.result_values(rec.result))
    return row


# Rows of ``select(flow_runs)`` are read by position: listing a page of runs spent most of its
# time looking columns up by name.
_RUN_COLUMNS = [c.name for c in flow_runs.c]
_read_run = FlowRunReader(_RUN_COLUMNS)
# every column in table order, with the inline result left out (NULL) for listings
LISTED_RUN_COLUMNS = [
    sa.null().label(c.name) if c.name == "result_inline" else c for c in flow_runs.c
]


def flow_run_from_row(row: Any) -> FlowRunRecord:
    """A record from a row of ``select(flow_runs)`` (every column, in table order)."""
    return _read_run(tuple(row))


TASK_COLUMNS = [task_runs.c[name] for name in TASK_COLUMN_NAMES]


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
