"""What event triggers read and keep: asset updates and finished flow runs, each trigger's
cursor, and the run keys a trigger already used.

Events are written by the engine (an asset, with the task's SUCCEEDED state) and by
``Store.transition_flow_run`` (a run's end state), in the same transaction as what they
report. Triggers read them by id. On PostgreSQL an id is handed out before its transaction
commits, so a reader may see id 7 before id 6: ``read_events`` reports the missing ids
(gaps) for the reader to ask about again, and the unique run key makes a second reading of an
event harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pauta.core.states import FlowRunState
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store, flow_run_from_row
from pauta.store.tables import events, flow_runs, trigger_cursors


@dataclass(frozen=True, slots=True)
class Event:
    """One asset update (``kind="asset"``) or finished flow run (``kind="flow_run"``)."""

    id: int
    kind: str
    name: str
    flow_run_id: str | None
    task_key: str | None
    state: str | None
    created_at: datetime


def _event(row: Any) -> Event:
    return Event(**row._mapping)


def last_event_id(store: Store) -> int:
    """The newest event's id (0 when there is none): where a new trigger starts reading."""
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)


def read_events(store: Store, after: int, limit: int = 5_000) -> tuple[list[Event], list[int]]:
    """Events with an id above ``after``, oldest first, and the ids missing between them (not
    committed yet, or rolled back)."""
    query = sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
    with store.engine.connect() as conn:
        found = [_event(row) for row in conn.execute(query)]
    gaps: list[int] = []
    previous = after
    for event in found:
        gaps.extend(range(previous + 1, event.id))
        previous = event.id
    return found, gaps


def events_by_id(store: Store, ids: Iterable[int]) -> list[Event]:
    """The events among ``ids`` that exist now (gaps that were filled)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    query = sa.select(events).where(events.c.id.in_(wanted)).order_by(events.c.id)
    with store.engine.connect() as conn:
        return [_event(row) for row in conn.execute(query)]


def record_asset_event(
    store: Store, asset: str, now: datetime, *, flow_run_id: str | None = None
) -> None:
    """Record an update of ``asset`` from outside a task (an external system, a test)."""
    row = {"kind": "asset", "name": asset, "flow_run_id": flow_run_id, "created_at": now}
    with store.writer.begin() as conn:
        conn.execute(sa.insert(events).values(**row))


def get_cursors(store: Store) -> dict[tuple[str, str], int]:
    """Every trigger's position: ``{(flow, trigger key): last event id read}``."""
    c = trigger_cursors.c
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(c.flow, c.trigger, c.position))
        return {(row.flow, row.trigger): row.position for row in rows}


def set_cursors(store: Store, positions: dict[tuple[str, str], int]) -> None:
    """Move triggers' cursors forward, in one transaction (never back: several schedulers
    may write them)."""
    if not positions:
        return
    c = trigger_cursors.c
    with store.writer.begin() as conn:
        for (flow, trigger), position in positions.items():
            conn.execute(
                store._insert()(trigger_cursors)
                .values(flow=flow, trigger=trigger, position=position)
                .on_conflict_do_nothing()
            )
            conn.execute(
                sa.update(trigger_cursors)
                .where(c.flow == flow, c.trigger == trigger, c.position < position)
                .values(position=position)
            )


def used_run_keys(store: Store, flow: str, prefix: str) -> set[str]:
    """The schedule keys starting with ``prefix`` that runs of ``flow`` already carry."""
    r = flow_runs.c
    query = sa.select(r.schedule_key).where(r.flow == flow, r.schedule_key.startswith(prefix))
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def latest_run_for(
    store: Store, flow: str, logical_date: datetime, states: Iterable[FlowRunState]
) -> FlowRunRecord | None:
    """The newest run of ``flow`` for ``logical_date`` that is in one of ``states``."""
    r = flow_runs.c
    query = (
        sa.select(flow_runs)
        .where(
            r.flow == flow,
            r.logical_date == logical_date,
            r.state.in_([str(s) for s in states]),
        )
        .order_by(r.created_at.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return flow_run_from_row(row) if row is not None else None
