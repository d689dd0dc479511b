"""Flow runs and their leases: creating, listing, moving, claiming, fencing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pauta.core.errors import AmbiguousRunIdError, LeaseLostError, RunNotFoundError, StoreError
from pauta.core.states import FLOW_ACTIVE, FLOW_TERMINAL, FlowRunState
from pauta.store import transitions
from pauta.store.base import StoreBase
from pauta.store.outbox import run_row, run_state_row
from pauta.store.records import (
    FlowRunRecord,
)
from pauta.store.results import StoredResult
from pauta.store.tables import (
    flow_runs,
    flows,
    mlflow_outbox,
)
from pauta.store.writes import flow_transition_values

if TYPE_CHECKING:
    pass
from pauta.store.rows import (
    LISTED_RUN_COLUMNS,
    DuplicateRunError,
    as_utc,
    flow_end_event,
    flow_run_from_row,
    flow_run_row,
)


class RunsStore(StoreBase):
    """Flow runs, their state transitions, claims, cancel requests and leases."""

    # flow runs --------------------------------------------------------------------------------
    def create_flow_run(self, rec: FlowRunRecord) -> FlowRunRecord:
        """Insert a new run. DuplicateRunError when its ``schedule_key`` is taken."""
        stmt = self._insert()(flow_runs).values(flow_run_row(rec))
        if rec.schedule_key is not None:
            # A conflict on the schedule key is an expected race between schedulers: ask the
            # database to skip the row instead of failing the transaction.
            stmt = stmt.on_conflict_do_nothing(index_elements=[flow_runs.c.schedule_key])
        try:
            with self._writer.begin() as conn:
                # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
                inserted = conn.execute(stmt.returning(flow_runs.c.id)).first()
                if inserted is not None and self.mirror:
                    conn.execute(sa.insert(mlflow_outbox).values(run_row(rec, rec.created_at)))
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"cannot create run {rec.id} of {rec.flow!r}: {exc.orig}") from exc
        if inserted is None:
            with self.engine.connect() as conn:
                query = sa.select(flow_runs.c.id).where(
                    flow_runs.c.schedule_key == rec.schedule_key
                )
                other = conn.execute(query).scalar()
            raise DuplicateRunError(
                f"flow {rec.flow!r} already has a run for logical date "
                f"{rec.logical_date.isoformat()} (schedule key {rec.schedule_key!r}): run {other}"
            )
        return rec

    def create_flow_runs(self, records: Iterable[FlowRunRecord]) -> list[FlowRunRecord]:
        """Insert several runs in one transaction, skipping each one whose ``schedule_key`` is
        taken (another scheduler created that tick's run); returns the runs inserted.

        One statement for all: a thousand flows due on the same minute are committed in about
        0.1 s, against about 2 s with ``create_flow_run`` one by one."""
        batch = list(records)
        rows = [flow_run_row(rec) for rec in batch]
        if not rows:
            return []
        stmt = (
            self._insert()(flow_runs)
            .on_conflict_do_nothing(index_elements=[flow_runs.c.schedule_key])
            .returning(flow_runs.c.id)
        )
        try:
            with self._writer.begin() as conn:
                inserted = set(conn.execute(stmt, rows).scalars())
                if inserted and self.mirror:
                    items = [run_row(rec, rec.created_at) for rec in batch if rec.id in inserted]
                    conn.execute(sa.insert(mlflow_outbox), items)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"cannot create {len(rows)} runs: {exc.orig}") from exc
        return [rec for rec in batch if rec.id in inserted]

    def get_flow_run(self, run_id: str) -> FlowRunRecord:
        """The run with this id, or with this unique id prefix (4 characters or more)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flow_runs).where(flow_runs.c.id == run_id)).first()
            if row is not None:
                return flow_run_from_row(row)
            if len(run_id) < 4:
                raise RunNotFoundError(f"no run with id {run_id!r}")
            query = (
                sa.select(flow_runs)
                .where(flow_runs.c.id.startswith(run_id, autoescape=True))
                .order_by(flow_runs.c.id)
                .limit(11)
            )
            rows = conn.execute(query).all()
        if not rows:
            raise RunNotFoundError(f"no run with id or id prefix {run_id!r}")
        if len(rows) > 1:
            ids = ", ".join(r.id for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
            raise AmbiguousRunIdError(
                f"the id prefix {run_id!r} matches several runs ({ids}); give more characters"
            )
        return flow_run_from_row(rows[0])

    def list_flow_runs(
        self,
        *,
        flow: str | None = None,
        state: str | None = None,
        parent_run_id: str | None = None,
        triggered_by: str | None = None,
        trigger: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
        offset: int = 0,
        inline_results: bool = True,
    ) -> list[FlowRunRecord]:
        """Runs, newest first, optionally filtered; ``limit=0`` returns them all.

        ``before`` (created_at, id) is a keyset cursor: only runs listed after that one.
        ``inline_results=False`` leaves small results in the database (their previews are still
        read): a listing need not carry up to 64 KiB per run.
        """
        query = sa.select(*(LISTED_RUN_COLUMNS if not inline_results else flow_runs.c)).order_by(
            flow_runs.c.created_at.desc(), flow_runs.c.id.desc()
        )
        if flow is not None:
            query = query.where(flow_runs.c.flow == flow)
        if state is not None:
            query = query.where(flow_runs.c.state == str(FlowRunState(state)))
        if trigger is not None:
            query = query.where(flow_runs.c.trigger == trigger)
        if before is not None:
            created, run_id = before
            # the first condition alone is what lets the created_at index seek to the cursor
            query = query.where(
                flow_runs.c.created_at <= created,
                sa.or_(flow_runs.c.created_at < created, flow_runs.c.id < run_id),
            )
        if parent_run_id is not None:
            query = query.where(flow_runs.c.parent_run_id == parent_run_id)
        if triggered_by is not None:
            query = query.where(flow_runs.c.triggered_by == triggered_by)
        if limit:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as conn:
            return [flow_run_from_row(row) for row in conn.execute(query)]

    def transition_flow_run(
        self,
        run_id: str,
        new: FlowRunState,
        *,
        expected: FlowRunState | Iterable[FlowRunState],
        epoch: int | None = None,
        now: datetime,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        result: StoredResult | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Move a run to ``new`` if it is still in ``expected`` (and, with ``epoch``, still
        driven by that lease). Returns False when the compare-and-set lost.

        StoreError when ``FLOW_TRANSITIONS`` forbids the move from any expected state;
        RunNotFoundError when there is no such run. Column updates: a fenced write also
        refreshes ``heartbeat_at``; ``started_at`` defaults to ``now`` on the first RUNNING;
        ``ended_at`` defaults to ``now`` in a terminal state and is cleared in an active one;
        ``error`` is cleared in an active state unless given; ``result`` is written when given.
        """
        new = FlowRunState(new)
        states = transitions.expected_flow_states(expected)
        transitions.check_flow_transition(run_id, states, new)
        values, first_start = flow_transition_values(
            new,
            epoch=epoch,
            now=now,
            started_at=started_at,
            ended_at=ended_at,
            result=result,
            error=error,
        )
        if first_start:
            values["started_at"] = sa.func.coalesce(flow_runs.c.started_at, now)
        with self._writer.begin() as conn:
            won = transitions.cas_flow_run(conn, run_id, new, states, epoch=epoch, values=values)
            if not won:
                self._require_run(conn, run_id)
                return won
            if self.mirror:
                conn.execute(sa.insert(mlflow_outbox).values(run_state_row(run_id, new, now)))
            if new in FLOW_TERMINAL:
                # on_flow triggers read this; written with the state so none is ever missed
                conn.execute(flow_end_event(run_id, new, now))
        return won

    def claim_queued_run(self, *, host: str, pid: int, now: datetime) -> FlowRunRecord | None:
        """Become the driver of the next QUEUED run (highest priority, then oldest) and move it
        to RUNNING, in one transaction; None when nothing is queued.

        On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``, so several
        workers claim different runs without waiting on each other; on SQLite the write
        transaction (BEGIN IMMEDIATE) serializes claims. Either way a run is claimed once.
        """
        transitions.check_flow_transition("?", [FlowRunState.QUEUED], FlowRunState.RUNNING)
        r = flow_runs.c
        running = flow_runs.alias("running")
        running_count = (
            sa.select(sa.func.count())
            .where(running.c.flow == r.flow, running.c.state == str(FlowRunState.RUNNING))
            .scalar_subquery()
        )
        limit = flows.c.max_active_runs
        query = (
            sa.select(r.id, r.lease_epoch, r.flow, limit)
            .select_from(flow_runs.outerjoin(flows, flows.c.name == r.flow))
            .where(
                r.state == str(FlowRunState.QUEUED),
                # a flow at its max_active_runs waits; runs of other flows go first
                sa.or_(limit.is_(None), running_count < limit),
            )
            .order_by(r.priority.desc(), r.created_at, r.id)
            .limit(1)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=flow_runs)
        with self._writer.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            if row.max_active_runs is not None and not self._below_limit(conn, row.flow):
                return None  # another worker claimed a run of this flow meanwhile
            claimed = conn.execute(
                sa.update(flow_runs)
                .where(r.id == row.id, r.state == str(FlowRunState.QUEUED))
                .values(
                    state=str(FlowRunState.RUNNING),
                    lease_epoch=row.lease_epoch + 1,
                    driver_host=host,
                    driver_pid=pid,
                    heartbeat_at=now,
                    started_at=sa.func.coalesce(r.started_at, now),
                )
            ).rowcount
        return self.get_flow_run(row.id) if claimed == 1 else None

    def _below_limit(self, conn: Connection, flow: str) -> bool:
        """Whether ``flow`` runs fewer runs than its max_active_runs, counted under the flow
        row's lock on PostgreSQL so that two workers cannot both take the last place (on SQLite
        the write transaction already serializes claims)."""
        row_query = sa.select(flows.c.max_active_runs).where(flows.c.name == flow)
        if self.dialect == "postgresql":
            row_query = row_query.with_for_update()
        limit = conn.execute(row_query).scalar()
        if limit is None:
            return True
        count = conn.execute(
            sa.select(sa.func.count()).where(
                flow_runs.c.flow == flow, flow_runs.c.state == str(FlowRunState.RUNNING)
            )
        ).scalar()
        return int(count or 0) < int(limit)

    def last_scheduled_tick(self, flow: str) -> datetime | None:
        """The logical date of the flow's latest scheduled or backfill run, if any."""
        r = flow_runs.c
        query = sa.select(sa.func.max(r.logical_date)).where(
            r.flow == flow, r.schedule_key.is_not(None)
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        if value is None:
            return None
        # max() loses the column type on SQLite: read it back through the column's type
        return value if isinstance(value, datetime) else as_utc(value)

    def count_active_runs(self, flow: str) -> int:
        """How many runs of ``flow`` are scheduled, queued or running."""
        r = flow_runs.c
        active = [str(s) for s in FLOW_ACTIVE]
        query = sa.select(sa.func.count()).where(r.flow == flow, r.state.in_(active))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def abandoned_runs(self, *, stale_before: datetime, limit: int = 10) -> list[FlowRunRecord]:
        """RUNNING top-level runs whose driver has not renewed its lease since
        ``stale_before``: their driver died, and another worker may resume them. (A child run is
        resumed by replaying its parent.)"""
        r = flow_runs.c
        query = (
            sa.select(flow_runs)
            .where(
                r.state == str(FlowRunState.RUNNING),
                r.parent_run_id.is_(None),
                r.heartbeat_at < stale_before,
            )
            .order_by(r.priority.desc(), r.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [flow_run_from_row(row) for row in conn.execute(query)]

    def request_cancel(self, run_id: str, now: datetime) -> FlowRunRecord:
        """Cancel a run: at once when no driver runs it yet (SCHEDULED, QUEUED), else by
        marking it so that its driver stops it (the driver records CANCELLED when done).

        StoreError when the run already ended.
        """
        record = self.get_flow_run(run_id)
        waiting = (FlowRunState.SCHEDULED, FlowRunState.QUEUED)
        if record.state in waiting:
            error = {"type": "Cancelled", "message": "cancelled before it started"}
            if self.transition_flow_run(
                record.id, FlowRunState.CANCELLED, expected=waiting, now=now, error=error
            ):
                return self.get_flow_run(record.id)
            record = self.get_flow_run(record.id)  # a driver took it meanwhile
        if record.state in FLOW_TERMINAL:
            raise StoreError(f"run {record.id} already ended {record.state}: nothing to cancel")
        stmt = (
            sa.update(flow_runs)
            .where(flow_runs.c.id == record.id, flow_runs.c.cancel_requested_at.is_(None))
            .values(cancel_requested_at=now)
        )
        with self._writer.begin() as conn:
            conn.execute(stmt)
        return self.get_flow_run(record.id)

    def cancel_requests(self, run_ids: Iterable[str]) -> set[str]:
        """Which of these runs were asked to stop with ``request_cancel``."""
        ids = list(run_ids)
        if not ids:
            return set()
        query = sa.select(flow_runs.c.id).where(
            flow_runs.c.id.in_(ids), flow_runs.c.cancel_requested_at.is_not(None)
        )
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def _require_run(self, conn: Connection, run_id: str) -> Any:
        cols = (flow_runs.c.lease_epoch, flow_runs.c.driver_host, flow_runs.c.driver_pid)
        row = conn.execute(sa.select(*cols).where(flow_runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r}")
        return row

    def take_lease(
        self, run_id: str, *, host: str, pid: int, now: datetime, expected_epoch: int
    ) -> int:
        """Become the run's driver: bump its lease epoch if it is still ``expected_epoch``.

        Returns the new epoch. LeaseLostError when another driver moved it first.
        """
        stmt = (
            sa.update(flow_runs)
            .where(flow_runs.c.id == run_id, flow_runs.c.lease_epoch == expected_epoch)
            .values(
                lease_epoch=expected_epoch + 1, driver_host=host, driver_pid=pid, heartbeat_at=now
            )
        )
        with self._writer.begin() as conn:
            if conn.execute(stmt).rowcount == 1:
                return expected_epoch + 1
            row = self._require_run(conn, run_id)
        raise LeaseLostError(
            f"run {run_id}: another driver took it over first (lease epoch {row.lease_epoch}, "
            f"held by {row.driver_host} pid {row.driver_pid}; this process expected epoch "
            f"{expected_epoch})"
        )

    def claim_deadline_miss(self, run: FlowRunRecord, now: datetime, seen_by: str) -> bool:
        """Record that ``run`` missed its deadline; True for the one caller that recorded it (and
        must now report it), False when someone already had."""
        from pauta.store.deadlines import claim_deadline_miss  # it reads this module's rows

        return claim_deadline_miss(self, run, now, seen_by)  # type: ignore[arg-type]

    def heartbeat(self, run_id: str, epoch: int, now: datetime) -> bool:
        """Renew the lease; False when another driver holds the run now."""
        stmt = (
            sa.update(flow_runs)
            .where(flow_runs.c.id == run_id, flow_runs.c.lease_epoch == epoch)
            .values(heartbeat_at=now)
        )
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1
