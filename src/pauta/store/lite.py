"""The light store: what driving a run asks of a SQLite store, on Python's sqlite3.

``pauta run`` spends most of a short run importing SQLAlchemy (0.1-0.3 s, more than the run
itself). On a SQLite database that is new or already at HEAD, the runner opens this store
instead: the same tables (created from ``sqlite_schema``, which is rendered from
``pauta.store.tables``), the same rules (``writes``), the same records (``recordrows``), the same
text in every column. It implements the calls of the engine's hot path; any other call, and
every refused write (to name what conflicted), goes to the full ``Store`` on the same file,
opened on first use. A database at an older revision is not opened here (the full store
migrates it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pauta.core.clock import Clock, get_clock
from pauta.core.errors import LeaseLostError, RunNotFoundError, StoreError
from pauta.core.files import create_private_file, make_private_dirs
from pauta.core.states import FLOW_TERMINAL, FlowRunState, State
from pauta.store import sqlite_schema as schema
from pauta.store import sqlitefile
from pauta.store.identity import DatabaseFile
from pauta.store.recordrows import TASK_COLUMN_NAMES, FlowRunReader, task_run_record
from pauta.store.records import AttemptRecord, FlowRow, FlowRunRecord, TaskRunRecord, WriteBatch
from pauta.store.results import StoredResult
from pauta.store.values import datetime_from_sqlite, datetime_to_sqlite, json_dumps
from pauta.store.writes import (
    BatchRows,
    FenceFailed,
    Stale,
    batch_extras,
    check_flow_transition,
    expected_flow_states,
    flow_transition_values,
    result_values,
)

if TYPE_CHECKING:
    from pauta.core.settings import Settings

Row = dict[str, Any]

_TO_SQL: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime_to_sqlite,
    "json": json_dumps,
    "bool": int,
}
_FROM_SQL: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime_from_sqlite,
    "json": json.loads,
    "bool": bool,
}


def sqlite_file(url: str) -> Path | None:
    """The database file of a plain ``sqlite:///path`` URL; None for any other URL (an
    in-memory database, URL options), which the full store opens."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix) :]
    if path in {"", ":memory:"} or path.startswith("file:"):
        return None
    return Path(path).expanduser().absolute()


class _Table:
    """A table's columns and how each value is written and read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: tuple[str, ...] = schema.COLUMNS[name]
        kinds = schema.KINDS[name]
        self.to_sql = {c: _TO_SQL[k] for c, k in kinds.items()}
        self._readers = [(i, _FROM_SQL[kinds[c]]) for i, c in enumerate(self.columns) if c in kinds]
        self.defaults: Row = schema.DEFAULTS[name]
        self.select = f"SELECT {', '.join(_quote(c) for c in self.columns)} FROM {name}"

    def values(self, row: Row, names: Sequence[str]) -> tuple[Any, ...]:
        out = []
        for name in names:
            value = row[name]
            if value is not None and name in self.to_sql:
                value = self.to_sql[name](value)
            out.append(value)
        return tuple(out)

    def read(self, raw: Sequence[Any], columns: Sequence[str] | None = None) -> list[Any]:
        values = list(raw)
        readers = self._readers if columns is None else self._readers_of(columns)
        for i, convert in readers:
            if values[i] is not None:
                values[i] = convert(values[i])
        return values

    def _readers_of(self, columns: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
        kinds = schema.KINDS[self.name]
        return [(i, _FROM_SQL[kinds[c]]) for i, c in enumerate(columns) if c in kinds]

    def insert(self, names: Sequence[str], suffix: str = "") -> str:
        marks = ", ".join("?" for _ in names)
        cols = ", ".join(_quote(n) for n in names)
        return f"INSERT INTO {self.name} ({cols}) VALUES ({marks}){suffix}"


def _quote(name: str) -> str:
    return f'"{name}"'


FLOW_RUNS, TASK_RUNS, ATTEMPTS = _Table("flow_runs"), _Table("task_runs"), _Table("task_attempts")
FLOWS, METRICS, ARTIFACTS, EVENTS = (
    _Table("flows"),
    _Table("metrics"),
    _Table("artifacts"),
    _Table("events"),
)
_read_run = FlowRunReader(FLOW_RUNS.columns)
_TASK_SELECT = f"SELECT {', '.join(_quote(c) for c in TASK_COLUMN_NAMES)} FROM task_runs"
_TASK_KEYS = ("flow_run_id", "key")
_ATTEMPT_KEYS = ("flow_run_id", "key", "attempt")


class LiteStore:
    """The store of the process driving runs on one SQLite file (see the module's text).

    Thread-safe: one connection for the engine's reads and writes, one for the lease's
    heartbeats and the WAL's checkpoints, each behind its own lock.
    """

    dialect = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        sqlite_synchronous: str = "NORMAL",
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or get_clock()
        self.path = path
        self.url = f"sqlite:///{path}"
        self._synchronous = sqlite_synchronous.upper()
        self._full_store: Any = None
        self._full_lock = threading.Lock()
        self._lock = threading.Lock()
        self._aux_lock = threading.Lock()
        self._conn = self._connect()
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # done off the engine's path
        # heartbeats and checkpoints, off the engine's connection; opened on first use: a short
        # run may never need it
        self._aux_conn: sqlite3.Connection | None = None
        self._file = DatabaseFile(path)
        self._commits = 0
        self._checkpointer: sqlitefile.Checkpointer | None = None
        # whether writes also queue their MLflow mirror: the full store's writes do that
        self.mirror = False

    @classmethod
    def open(
        cls, url: str, *, sqlite_synchronous: str = "NORMAL", clock: Clock | None = None
    ) -> LiteStore | None:
        """The light store of ``url``, its schema created when the database is new; None when
        the full store must open it (not a plain SQLite file, or a schema not at HEAD)."""
        path = sqlite_file(url)
        if path is None or sqlite_synchronous.upper() not in sqlitefile.SYNCHRONOUS_MODES:
            return None
        sqlitefile.check_local_disk(path)
        try:
            make_private_dirs(path.parent)
            create_private_file(path)  # SQLite gives the -wal and -shm files its mode
        except OSError as exc:
            raise StoreError(f"cannot create the database {path}: {exc}") from exc
        store = cls(path, sqlite_synchronous=sqlite_synchronous, clock=clock)
        try:
            ready = store._ensure_schema()
        except BaseException:
            store.close()
            raise
        if not ready:
            store.close()
            return None
        return store

    # connections ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=sqlitefile.BUSY_TIMEOUT_S,
            isolation_level=None,  # transactions are ours to begin
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {sqlitefile.BUSY_TIMEOUT_S * 1000}")
        cursor = conn.cursor()
        mode = str(cursor.execute("PRAGMA journal_mode").fetchone()[0])
        if mode.lower() != "wal":
            mode = sqlitefile.enable_wal(cursor)
        if mode.lower() != "wal":
            conn.close()
            raise StoreError(
                f"SQLite refused WAL mode for {self.path} (journal mode is {mode!r}); pauta "
                "needs WAL for several processes to share the database"
            )
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _aux(self) -> sqlite3.Connection:
        """The second connection (call holding ``_aux_lock``), opened on first use."""
        if self._aux_conn is None:
            self._aux_conn = self._connect()
        return self._aux_conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (BEGIN IMMEDIATE), committed when the block ends."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                with suppress(sqlite3.Error):
                    self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cursor.close()
        self._after_commit()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _after_commit(self) -> None:
        # as the full store's group commits do: fold the WAL in the background every so often
        every = sqlitefile.CHECKPOINT_AFTER_COMMITS
        if not every:
            return
        self._commits += 1
        if self._commits >= every:
            self._commits = 0
            if self._checkpointer is None:
                self._checkpointer = sqlitefile.Checkpointer(self.checkpoint)
            self._checkpointer.request()

    def _ensure_schema(self) -> bool:
        """Create the tables at HEAD in an empty database; whether the schema is at HEAD."""
        with self._write() as cur:
            names = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" in names:
                version = cur.execute("SELECT version_num FROM alembic_version").fetchone()
                return version is not None and version[0] == schema.HEAD
            if names & set(schema.COLUMNS):
                return False  # pauta's tables without a version: the full store says why
            for statement in schema.DDL:
                cur.execute(statement)
            cur.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (schema.HEAD,))
        return True

    def _full(self) -> Any:
        """The full store on the same file, for everything this one does not do itself."""
        with self._full_lock:
            if self._full_store is None:
                from pauta.store.repository import Store

                self._full_store = Store(
                    self.url, sqlite_synchronous=self._synchronous, migrate=False, clock=self.clock
                )
            return self._full_store

    def _mirrored(self) -> Any:
        full = self._full()
        full.mirror = True
        return full

    def __getattr__(self, name: str) -> Any:
        # Only what is missing comes here. Private names stay this store's own (a close()
        # after a failed __init__ must not open the full store), but for the dialect's INSERT
        # that the store's module functions (services, deadlines) build their writes with.
        if name.startswith("_") and name != "_insert":
            raise AttributeError(name)
        return getattr(self._full(), name)

    def __repr__(self) -> str:
        return f"LiteStore({self.url!r})"

    def __enter__(self) -> LiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lost(self) -> str | None:
        """Why this store no longer reaches the database other processes see (its file was
        deleted or replaced since it was opened); None while it is the same."""
        return self._file.problem()

    def checkpoint(self) -> None:
        """Fold the WAL into the database without blocking writers (see ``wal_checkpoint``)."""
        with self._aux_lock:
            aux = self._aux()
            sqlitefile.wal_checkpoint(lambda sql: aux.execute(sql).fetchone())

    def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        with self._full_lock:
            full, self._full_store = self._full_store, None
        if full is not None:
            full.close()
        for lock, conn in ((self._lock, self._conn), (self._aux_lock, self._aux_conn)):
            with lock, suppress(sqlite3.Error):
                if conn is not None:
                    conn.close()

    # flows ------------------------------------------------------------------------------------
    def upsert_flow(self, row: FlowRow) -> None:
        """Record a flow's definition; a flow already known keeps its ``paused`` flag."""
        values = {**row.columns(), "updated_at": self.clock.now()}
        names = [*values, "paused"]
        updates = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in values if n != "name")
        sql = FLOWS.insert(names, f" ON CONFLICT (name) DO UPDATE SET {updates}")
        with self._write() as cur:
            cur.execute(sql, FLOWS.values({**values, "paused": False}, names))

    def list_pools(self) -> dict[str, int]:
        """Every pool's size, by name."""
        return dict(self._read("SELECT name, slots FROM pools ORDER BY name"))

    # flow runs --------------------------------------------------------------------------------
    def create_flow_run(self, rec: FlowRunRecord) -> FlowRunRecord:
        """Insert a new run. DuplicateRunError when its ``schedule_key`` is taken."""
        if self.mirror:
            return self._mirrored().create_flow_run(rec)  # type: ignore[no-any-return]
        row = {c: getattr(rec, c) for c in FLOW_RUNS.columns if hasattr(rec, c)}
        row.update(state=str(rec.state), **result_values(rec.result))
        row = {**FLOW_RUNS.defaults, **row}
        names = [c for c in FLOW_RUNS.columns if c in row]
        sql = FLOW_RUNS.insert(names, " ON CONFLICT (schedule_key) DO NOTHING")
        try:
            with self._write() as cur:
                inserted = cur.execute(sql, FLOW_RUNS.values(row, names)).rowcount
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot create run {rec.id} of {rec.flow!r}: {exc}") from exc
        if not inserted:
            return self._full().create_flow_run(rec)  # raises DuplicateRunError, naming the run
        return rec

    def get_flow_run(self, run_id: str) -> FlowRunRecord:
        """The run with this id (or with this unique id prefix: the full store looks)."""
        rows = self._read(f"{FLOW_RUNS.select} WHERE id = ?", (run_id,))
        if not rows:
            return self._full().get_flow_run(run_id)  # type: ignore[no-any-return]
        return _read_run(FLOW_RUNS.read(rows[0]))

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
        """As ``Store.transition_flow_run``: a compare-and-set of the run's state."""
        if self.mirror:
            return self._mirrored().transition_flow_run(  # type: ignore[no-any-return]
                run_id, new, expected=expected, epoch=epoch, now=now, started_at=started_at,
                ended_at=ended_at, result=result, error=error,
            )  # fmt: skip
        new = FlowRunState(new)
        states = expected_flow_states(expected)
        check_flow_transition(run_id, states, new)
        values, first_start = flow_transition_values(
            new,
            epoch=epoch,
            now=now,
            started_at=started_at,
            ended_at=ended_at,
            result=result,
            error=error,
        )
        values["state"] = str(new)
        names = list(values)
        sets = [f"{_quote(n)} = ?" for n in names]
        params = list(FLOW_RUNS.values(values, names))
        if first_start:
            sets.append("started_at = COALESCE(started_at, ?)")
            params.append(datetime_to_sqlite(now))
        where = f"id = ? AND state IN ({', '.join('?' for _ in states)})"
        params += [run_id, *(str(s) for s in states)]
        if epoch is not None:
            where += " AND lease_epoch = ?"
            params.append(epoch)
        with self._write() as cur:
            won = cur.execute(f"UPDATE flow_runs SET {', '.join(sets)} WHERE {where}", params)
            if won.rowcount != 1:
                self._require_run(cur, run_id)
                return False
            if new in FLOW_TERMINAL:
                # on_flow triggers read this; written with the state so none is ever missed
                cur.execute(
                    "INSERT INTO events (kind, name, flow_run_id, state, created_at) "
                    "SELECT 'flow_run', flow, id, ?, ? FROM flow_runs WHERE id = ?",
                    (str(new), datetime_to_sqlite(now), run_id),
                )
        return True

    def _require_run(self, cur: sqlite3.Cursor, run_id: str) -> tuple[Any, ...]:
        row = cur.execute(
            "SELECT lease_epoch, driver_host, driver_pid FROM flow_runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r}")
        return tuple(row)

    def last_scheduled_tick(self, flow: str) -> datetime | None:
        """The logical date of the flow's latest scheduled or backfill run, if any."""
        [(value,)] = self._read(
            "SELECT max(logical_date) FROM flow_runs WHERE flow = ? AND schedule_key IS NOT NULL",
            (flow,),
        )
        return datetime_from_sqlite(value)

    def cancel_requests(self, run_ids: Iterable[str]) -> set[str]:
        """Which of these runs were asked to stop with ``request_cancel``."""
        ids = list(run_ids)
        found: set[str] = set()
        for i in range(0, len(ids), 400):  # below SQLite's bound-parameter limit
            part = ids[i : i + 400]
            marks = ", ".join("?" for _ in part)
            rows = self._read(
                f"SELECT id FROM flow_runs WHERE id IN ({marks}) "
                "AND cancel_requested_at IS NOT NULL",
                part,
            )
            found.update(r[0] for r in rows)
        return found

    def take_lease(
        self, run_id: str, *, host: str, pid: int, now: datetime, expected_epoch: int
    ) -> int:
        """Become the run's driver: bump its lease epoch if it is still ``expected_epoch``."""
        with self._write() as cur:
            changed = cur.execute(
                "UPDATE flow_runs SET lease_epoch = ?, driver_host = ?, driver_pid = ?, "
                "heartbeat_at = ? WHERE id = ? AND lease_epoch = ?",
                (expected_epoch + 1, host, pid, datetime_to_sqlite(now), run_id, expected_epoch),
            ).rowcount
            if changed == 1:
                return expected_epoch + 1
            epoch, held_host, held_pid = self._require_run(cur, run_id)
        raise LeaseLostError(
            f"run {run_id}: another driver took it over first (lease epoch {epoch}, held by "
            f"{held_host} pid {held_pid}; this process expected epoch {expected_epoch})"
        )

    def heartbeat(self, run_id: str, epoch: int, now: datetime) -> bool:
        """Renew the lease; False when another driver holds the run now."""
        with self._aux_lock:
            aux = self._aux()
            cur = aux.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                changed = cur.execute(
                    "UPDATE flow_runs SET heartbeat_at = ? WHERE id = ? AND lease_epoch = ?",
                    (datetime_to_sqlite(now), run_id, epoch),
                ).rowcount
            except BaseException:
                aux.rollback()
                raise
            aux.commit()
        return changed == 1

    def claim_deadline_miss(self, run: FlowRunRecord, now: datetime, seen_by: str) -> bool:
        """Record that ``run`` missed its deadline; True for the one caller that recorded it."""
        if run.deadline_at is None:
            raise ValueError(f"run {run.id} has no deadline")
        return self._full().claim_deadline_miss(run, now, seen_by)  # type: ignore[no-any-return]

    # task calls -------------------------------------------------------------------------------
    def task_runs_by_key(self, run_id: str) -> dict[str, TaskRunRecord]:
        """A run's task calls by key."""
        rows = self._read(
            f"{_TASK_SELECT} WHERE flow_run_id = ? ORDER BY created_at, key", (run_id,)
        )
        records = (task_run_record(TASK_RUNS.read(r, TASK_COLUMN_NAMES)) for r in rows)
        return {rec.key: rec for rec in records}

    def find_cached(
        self, name: str, cache_key: str, *, not_before: datetime | None = None
    ) -> TaskRunRecord | None:
        """The latest successful call of task ``name`` with ``cache_key``."""
        sql = f"{_TASK_SELECT} WHERE name = ? AND cache_key = ? AND state IN (?, ?)"
        params: list[Any] = [name, cache_key, str(State.SUCCEEDED), str(State.CACHED)]
        if not_before is not None:
            sql += " AND ended_at >= ?"
            params.append(datetime_to_sqlite(not_before))
        rows = self._read(sql + " ORDER BY ended_at DESC LIMIT 1", params)
        return task_run_record(TASK_RUNS.read(rows[0], TASK_COLUMN_NAMES)) if rows else None

    def list_attempts(self, run_id: str, key: str | None = None) -> list[AttemptRecord]:
        """A run's attempts (or one task call's), by key and attempt number."""
        sql, params = f"{ATTEMPTS.select} WHERE flow_run_id = ?", [run_id]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        out = []
        for raw in self._read(sql + " ORDER BY key, attempt", params):
            values = dict(zip(ATTEMPTS.columns, ATTEMPTS.read(raw), strict=True))
            out.append(AttemptRecord(**{**values, "state": State(values["state"])}))
        return out

    def write(self, batch: WriteBatch, now: datetime) -> None:
        """Write a group commit in one transaction, as ``Store.write``; a refused one is
        handed to the full store, which names what conflicted (or writes it, if the conflict
        is gone)."""
        if self.mirror:
            self._mirrored().write(batch, now)
            return
        if not batch and not batch.fences:
            return
        rows = BatchRows.of(batch, now)  # checked and built before the write lock is taken
        metric_rows, artifact_rows, event_rows = batch_extras(batch, now)
        stamp = datetime_to_sqlite(now)
        try:
            with self._write() as cur:
                for run, epoch in batch.fences.items():
                    if cur.execute(_FENCE, (stamp, run, epoch)).rowcount != 1:
                        raise FenceFailed
                _insert(cur, TASK_RUNS, rows.task_new)
                if _update(cur, TASK_RUNS, rows.task_cas, _TASK_KEYS) != len(rows.task_cas):
                    raise Stale
                _insert(cur, ATTEMPTS, rows.attempt_new)
                cas = rows.attempt_cas
                if _update(cur, ATTEMPTS, cas, _ATTEMPT_KEYS) != len(cas):
                    raise Stale
                _insert(cur, METRICS, metric_rows)
                _insert(cur, ARTIFACTS, artifact_rows)
                _insert(cur, EVENTS, event_rows)
        except (FenceFailed, Stale, sqlite3.IntegrityError):
            self._full().write(batch, now)


_FENCE = "UPDATE flow_runs SET heartbeat_at = ? WHERE id = ? AND lease_epoch = ?"


def _insert(cur: sqlite3.Cursor, table: _Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    names = [c for c in table.columns if c in rows[0]]
    cur.executemany(table.insert(names), [table.values(r, names) for r in rows])


def _update(cur: sqlite3.Cursor, table: _Table, rows: Sequence[Row], keys: Sequence[str]) -> int:
    """A compare-and-set per row (``w_``-prefixed keys and ``w_expected``); rows changed."""
    if not rows:
        return 0
    names = [c for c in table.columns if c in rows[0] and c not in keys]
    sets = ", ".join(f"{_quote(n)} = ?" for n in names)
    where = " AND ".join(f"{_quote(k)} = ?" for k in (*keys, "state"))
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    wheres = [*(f"w_{k}" for k in keys), "w_expected"]
    params = [(*table.values(r, names), *(r[w] for w in wheres)) for r in rows]
    cur.executemany(sql, params)
    return int(cur.rowcount)


def open_run_store(settings: Settings, *, clock: Clock | None = None) -> Any:
    """The store a process driving runs opens: the light store on a SQLite file that is new
    or at HEAD, else the full ``Store`` (PostgreSQL, a schema it must migrate, or runs
    mirrored to MLflow)."""
    if settings.database_url.startswith("sqlite"):
        settings.ensure_home()
    # with the MLflow mirror on, writes also queue their mirror: the full store does that
    if settings.mlflow_tracking_uri is None:
        light = LiteStore.open(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, clock=clock
        )
        if light is not None:
            return light
    from pauta.store.repository import Store

    return Store.from_settings(settings, clock=clock)
