"""``Store``: the narrow interface to the metadata database, on SQLite or PostgreSQL.

Everything goes in and out as the plain records of ``pauta.store.records``; no SQLAlchemy
object leaves this module. State changes go through ``pauta.store.transitions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pauta.core.clock import utcnow
from pauta.core.errors import LeaseLostError, RunNotFoundError, StoreError
from pauta.core.states import FLOW_ACTIVE, FLOW_TERMINAL, FlowRunState, State
from pauta.store import db, transitions
from pauta.store.identity import DatabaseFile
from pauta.store.records import (
    ArtifactRecord,
    AttemptRecord,
    FlowRow,
    FlowRunRecord,
    MetricRecord,
    TaskRunRecord,
    WriteBatch,
)
from pauta.store.results import StoredResult
from pauta.store.tables import (
    artifacts,
    events,
    flow_runs,
    flows,
    metrics,
    pools,
    task_attempts,
    task_runs,
)
from pauta.store.types import UTCDateTime

if TYPE_CHECKING:
    from pauta.core.settings import Settings


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


def _flow_run_row(rec: FlowRunRecord) -> dict[str, Any]:
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
_LISTED = [sa.null().label(c.name) if c.name == "result_inline" else c for c in flow_runs.c]
_RUN_RESULT = tuple(_RUN_COLUMNS.index(c) for c in transitions.RESULT_COLUMNS)


def flow_run_from_row(row: Any) -> FlowRunRecord:
    """A record from a row of ``select(flow_runs)`` (every column, in table order)."""
    values = tuple(row)
    fields = {name: values[i] for name, i in _RUN_FIELDS}
    result = _result(*(values[i] for i in _RUN_RESULT))
    return FlowRunRecord(**fields, state=FlowRunState(values[_RUN_STATE]), result=result)


# Selected in this order and unpacked by position: a run can have thousands of task rows, and
# reading a Row by attribute name costs more than everything else.
_TASK_COLUMNS = [
    task_runs.c[name]
    for name in (
        "flow_run_id", "key", "name", "state", "attempts", "map_index", "fingerprint", "upstream",
        "priority", "resources", "kind", "child_run_id", "created_at", "started_at", "ended_at",
        *transitions.RESULT_COLUMNS, "error", "cache_key", "cached_from",
    )
]  # fmt: skip


def _task_run(row: Any) -> TaskRunRecord:
    (run, key, name, state, attempts, map_index, fingerprint, upstream, priority, resources, kind,
     child_run_id, created_at, started_at, ended_at, uri, inline, size, serializer, preview,
     error, cache_key, cached_from) = row  # fmt: skip
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
    )


def _flow_end_event(run_id: str, state: FlowRunState, now: datetime) -> sa.Insert:
    """INSERT the "flow_run" event of a run that just ended, naming its flow."""
    r = flow_runs.c
    source = sa.select(
        sa.literal("flow_run"), r.flow, r.id, sa.literal(str(state)), sa.literal(now, UTCDateTime())
    ).where(r.id == run_id)
    columns = ["kind", "name", "flow_run_id", "state", "created_at"]
    return sa.insert(events).from_select(columns, source)


def _as_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Store:
    """The metadata store. Opening it migrates the schema when needed (``migrate=False`` skips).

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/pauta.db`` or
    ``postgresql+psycopg://user@host/db``. Safe to share between threads.
    """

    def __init__(
        self, url: str, *, sqlite_synchronous: str = "NORMAL", migrate: bool = True
    ) -> None:
        self.engine: Engine = db.create_engine(url, sqlite_synchronous=sqlite_synchronous)
        self.url: str = self.engine.url.render_as_string(hide_password=False)
        self.dialect: str = self.engine.dialect.name
        # Same pool; on SQLite its transactions begin with BEGIN IMMEDIATE.
        self._writer = db.writer(self.engine)
        # Group commits keep a driver connection of their own, except where the pool has a
        # single shared one (an in-memory SQLite database).
        self._direct = (
            None if isinstance(self.engine.pool, sa.StaticPool) else db.DirectWriter(self.engine)
        )
        if migrate:
            try:
                db.ensure_schema(self.engine)
            except BaseException:
                self.engine.dispose()
                raise
        path = db.sqlite_path(self.engine.url) if self.dialect == "sqlite" else None
        self._file = DatabaseFile(path) if path is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store the settings name; for SQLite, the pauta home is created first."""
        if settings.database_url.startswith("sqlite"):
            settings.ensure_home()
        return cls(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)

    def close(self) -> None:
        """Close every pooled connection."""
        if self._direct is not None:
            self._direct.close()
        self.engine.dispose()

    def lost(self) -> str | None:
        """Why this store no longer reaches the database other processes see: its SQLite file
        was deleted or replaced since it was opened. None while it is the same (and always on
        PostgreSQL)."""
        return self._file.problem() if self._file is not None else None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def _insert(self) -> Any:
        # The dialect's own INSERT (for ON CONFLICT), imported on first use: importing the
        # PostgreSQL dialect costs a SQLite user's every command about 30 ms.
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert

    @property
    def writer(self) -> Engine:
        """The engine for write transactions (BEGIN IMMEDIATE on SQLite)."""
        return self._writer

    # flows ------------------------------------------------------------------------------------
    def upsert_flow(self, row: FlowRow) -> None:
        """Record a flow's definition, every column of it (the one writer of a flow's row);
        a flow already known keeps its ``paused`` flag."""
        values = {**row.columns(), "updated_at": utcnow()}
        del values["name"]
        stmt = self._insert()(flows).values(name=row.name, paused=False, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[flows.c.name], set_=values)
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def get_flow(self, name: str) -> dict[str, Any] | None:
        """The flow's row as a dict (name, description, parameters_schema, schedule, timezone,
        paused, source, updated_at), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flows).where(flows.c.name == name)).first()
        return dict(row._mapping) if row else None

    def list_flows(self) -> list[dict[str, Any]]:
        """Every known flow, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(flows).order_by(flows.c.name))
            return [dict(row._mapping) for row in rows]

    def paused_flows(self) -> set[str]:
        """The names of the paused flows (the scheduler asks every second)."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(flows.c.name).where(flows.c.paused)).scalars())

    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or unpause a flow's schedule. StoreError when the flow is unknown."""
        stmt = sa.update(flows).where(flows.c.name == name).values(paused=paused)
        with self._writer.begin() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise StoreError(
                    f"no flow named {name!r} in the store; flows are recorded when they are "
                    "discovered: check the name with `pauta flows list`"
                )

    # flow runs --------------------------------------------------------------------------------
    def create_flow_run(self, rec: FlowRunRecord) -> FlowRunRecord:
        """Insert a new run. DuplicateRunError when its ``schedule_key`` is taken."""
        stmt = self._insert()(flow_runs).values(_flow_run_row(rec))
        if rec.schedule_key is not None:
            # A conflict on the schedule key is an expected race between schedulers: ask the
            # database to skip the row instead of failing the transaction.
            stmt = stmt.on_conflict_do_nothing(index_elements=[flow_runs.c.schedule_key])
        try:
            with self._writer.begin() as conn:
                # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
                inserted = conn.execute(stmt.returning(flow_runs.c.id)).first()
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
        rows = [_flow_run_row(rec) for rec in batch]
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
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"cannot create {len(rows)} runs: {exc.orig}") from exc
        return [rec for rec in batch if rec.id in inserted]

    def get_flow_run(self, run_id: str) -> FlowRunRecord:
        """The run with this id, or with this unique id prefix (4 characters or more)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flow_runs).where(flow_runs.c.id == run_id)).first()
            if row is not None:
                return flow_run_from_row(row)
            hint = "list runs with `pauta runs list`"
            if len(run_id) < 4:
                raise RunNotFoundError(f"no run with id {run_id!r}; {hint}")
            query = (
                sa.select(flow_runs)
                .where(flow_runs.c.id.startswith(run_id, autoescape=True))
                .order_by(flow_runs.c.id)
                .limit(11)
            )
            rows = conn.execute(query).all()
        if not rows:
            raise RunNotFoundError(f"no run with id or id prefix {run_id!r}; {hint}")
        if len(rows) > 1:
            ids = ", ".join(r.id for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
            raise RunNotFoundError(
                f"the id prefix {run_id!r} matches several runs ({ids}); give more characters"
            )
        return flow_run_from_row(rows[0])

    def list_flow_runs(
        self,
        *,
        flow: str | None = None,
        state: str | None = None,
        parent_run_id: str | None = None,
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
        query = sa.select(*(_LISTED if not inline_results else flow_runs.c)).order_by(
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
        values: dict[str, Any] = {}
        if epoch is not None:
            values["heartbeat_at"] = now
        if started_at is not None:
            values["started_at"] = started_at
        elif new == FlowRunState.RUNNING:
            values["started_at"] = sa.func.coalesce(flow_runs.c.started_at, now)
        if new in FLOW_TERMINAL:
            values["ended_at"] = ended_at or now
        else:
            values["ended_at"] = None
            values["error"] = None
            values["cancel_requested_at"] = None
        if error is not None:
            values["error"] = error
        if result is not None:
            values.update(transitions.result_values(result))
        with self._writer.begin() as conn:
            won = transitions.cas_flow_run(conn, run_id, new, states, epoch=epoch, values=values)
            if not won:
                self._require_run(conn, run_id)
            elif new in FLOW_TERMINAL:
                # on_flow triggers read this; written with the state so none is ever missed
                conn.execute(_flow_end_event(run_id, new, now))
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
        return value if isinstance(value, datetime) else _as_utc(value)

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
            raise RunNotFoundError(f"no run with id {run_id!r}; list runs with `pauta runs list`")
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

    def heartbeat(self, run_id: str, epoch: int, now: datetime) -> bool:
        """Renew the lease; False when another driver holds the run now."""
        stmt = (
            sa.update(flow_runs)
            .where(flow_runs.c.id == run_id, flow_runs.c.lease_epoch == epoch)
            .values(heartbeat_at=now)
        )
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    # task runs --------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log into the database, without blocking writers.

        Group commits do not do it themselves (it would stall the engine every few hundred
        tasks); the heartbeat thread of each driving process calls this every second.
        """
        if self._direct is not None:
            self._direct.checkpoint()

    def write(self, batch: WriteBatch, now: datetime) -> None:
        """Write a group commit in one transaction: all of it, or nothing.

        Fenced runs must still hold their lease epoch (else LeaseLostError, naming the runs);
        each task and attempt row must still hold its expected state, or not exist when none is
        expected (else StaleWriteError naming the rows; its ``conflicts`` attribute lists them).
        Metrics are appended. ``now`` refreshes the fenced runs' heartbeats.
        """
        transitions.write_batch(self._writer, batch, now, self._direct)

    def list_task_runs(self, run_id: str) -> list[TaskRunRecord]:
        """A run's task calls, in the order they were created."""
        query = (
            sa.select(*_TASK_COLUMNS)
            .where(task_runs.c.flow_run_id == run_id)
            .order_by(task_runs.c.created_at, task_runs.c.key)
        )
        with self.engine.connect() as conn:
            return [_task_run(row) for row in conn.execute(query)]

    def find_cached(
        self, name: str, cache_key: str, *, not_before: datetime | None = None
    ) -> TaskRunRecord | None:
        """The latest successful call of task ``name`` with ``cache_key`` (ended at or after
        ``not_before`` when given), whose result a new call may reuse."""
        t = task_runs.c
        query = (
            sa.select(*_TASK_COLUMNS)
            .where(
                t.name == name,
                t.cache_key == cache_key,
                t.state.in_([str(State.SUCCEEDED), str(State.CACHED)]),
            )
            .order_by(t.ended_at.desc())
            .limit(1)
        )
        if not_before is not None:
            query = query.where(t.ended_at >= not_before)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _task_run(row) if row is not None else None

    def task_runs_by_key(self, run_id: str) -> dict[str, TaskRunRecord]:
        """A run's task calls by key."""
        return {rec.key: rec for rec in self.list_task_runs(run_id)}

    def list_attempts(self, run_id: str, key: str | None = None) -> list[AttemptRecord]:
        """A run's attempts (or one task call's), by key and attempt number."""
        t = task_attempts.c
        query = sa.select(task_attempts).where(t.flow_run_id == run_id).order_by(t.key, t.attempt)
        if key is not None:
            query = query.where(t.key == key)
        with self.engine.connect() as conn:
            return [
                AttemptRecord(**{**row._mapping, "state": State(row.state)})
                for row in conn.execute(query)
            ]

    def list_metrics(self, run_id: str, key: str | None = None) -> list[MetricRecord]:
        """A run's metrics (or one task call's), in the order they were logged."""
        query = sa.select(metrics).where(metrics.c.flow_run_id == run_id).order_by(metrics.c.id)
        if key is not None:
            query = query.where(metrics.c.key == key)
        with self.engine.connect() as conn:
            return [
                MetricRecord(**{k: v for k, v in row._mapping.items() if k != "id"})
                for row in conn.execute(query)
            ]

    def list_artifacts(self, run_id: str, key: str | None = None) -> list[ArtifactRecord]:
        """A run's artifacts (or one task call's), in the order they were kept."""
        a = artifacts.c
        query = sa.select(artifacts).where(a.flow_run_id == run_id).order_by(a.id)
        if key is not None:
            query = query.where(a.key == key)
        with self.engine.connect() as conn:
            return [
                ArtifactRecord(
                    row.flow_run_id,
                    row.key,
                    row.attempt,
                    row.name,
                    StoredResult(row.uri, None, row.size, row.serializer, row.preview),
                    row.logged_at,
                )
                for row in conn.execute(query)
            ]

    # pools ------------------------------------------------------------------------------------
    def set_pool(self, name: str, slots: int) -> None:
        """Create or resize a pool: at most ``slots`` of its tasks run at once."""
        if slots < 0:
            raise StoreError(f"pool {name!r}: slots must be 0 or more, not {slots}")
        stmt = self._insert()(pools).values(name=name, slots=slots)
        stmt = stmt.on_conflict_do_update(index_elements=[pools.c.name], set_={"slots": slots})
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def list_pools(self) -> dict[str, int]:
        """Every pool's size, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(pools.c.name, pools.c.slots).order_by(pools.c.name))
            return dict(rows.all())
