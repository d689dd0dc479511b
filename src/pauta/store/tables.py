"""The metadata schema: SQLAlchemy Core tables and indexes, no behaviour.

Changing anything here needs a new migration in ``pauta/store/migrations/versions`` and a new
``HEAD`` in ``pauta.store.db``; ``tests/store/test_store_migrations.py`` checks that the
migrated schema matches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from pauta.store.types import JSONValue, UTCDateTime

# Deterministic constraint names: Alembic's batch mode on SQLite rebuilds tables and needs them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RUN_ID = String(16)
KEY = String(512)
STATE = String(32)


def _run_fk() -> ForeignKey:
    return ForeignKey("flow_runs.id", ondelete="CASCADE")


flows = Table(
    "flows",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("parameters_schema", JSONValue()),
    Column("schedule", Text),
    Column("timezone", String(64)),
    Column("paused", Boolean, nullable=False, default=False, server_default=false()),
    Column("source", Text),
    Column("updated_at", UTCDateTime()),
    # workers claim a queued run of this flow only while fewer than this many run
    Column("max_active_runs", Integer),
)

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", RUN_ID, primary_key=True),
    Column("flow", String(255), nullable=False),
    Column("state", STATE, nullable=False),
    Column("params", JSONValue(), nullable=False),
    Column("logical_date", UTCDateTime(), nullable=False),
    Column("interval_start", UTCDateTime(), nullable=False),
    Column("interval_end", UTCDateTime(), nullable=False),
    Column("trigger", String(32), nullable=False),
    # Set only for scheduled and backfill runs: the unique key makes "one run per tick" hold
    # even with several schedulers on one database. NULLs never collide.
    Column("schedule_key", String(512), unique=True),
    Column("parent_run_id", RUN_ID),
    Column("parent_key", KEY),
    # a run queued by trigger_flow: the run and the call that queued it (not a child run: it
    # is claimed, resumed and retried on its own)
    Column("triggered_by", RUN_ID),
    Column("triggered_by_key", KEY),
    Column("code_hash", String(128), nullable=False, default=""),
    Column("flow_ref", JSONValue(), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("tags", JSONValue(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("driver_host", String(255)),
    Column("driver_pid", Integer),
    Column("lease_epoch", Integer, nullable=False, default=0, server_default="0"),
    Column("heartbeat_at", UTCDateTime()),
    Column("result_uri", Text),
    Column("result_inline", LargeBinary),
    Column("result_size", Integer),
    Column("result_serializer", String(64)),
    Column("result_preview", Text),
    Column("error", JSONValue()),
    # set by `pauta runs cancel` while a driver runs the flow; the driver stops the run
    Column("cancel_requested_at", UTCDateTime()),
    # Scheduled runs: when their tick fell due to a running scheduler (the tick, or later for
    # a tick that passed while no scheduler watched the flow); the scheduler lag starts here.
    Column("due_at", UTCDateTime()),
    # @flow(deadline=...): when the run must have finished by, and whether it is then cancelled
    Column("deadline_at", UTCDateTime()),
    Column("deadline_cancel", Boolean, nullable=False, default=False, server_default=false()),
)
Index("ix_flow_runs_flow_created_at", flow_runs.c.flow, flow_runs.c.created_at)
Index("ix_flow_runs_created_at", flow_runs.c.created_at)
Index("ix_flow_runs_state", flow_runs.c.state)
Index("ix_flow_runs_parent_run_id", flow_runs.c.parent_run_id)
# The scheduler's one query a second for unfinished runs past their deadline.
Index("ix_flow_runs_state_deadline_at", flow_runs.c.state, flow_runs.c.deadline_at)

# Runs that missed their deadline, one row each: the primary key makes "reported once" hold
# across schedulers, drivers and restarts (whoever inserts the row reports the miss).
deadline_misses = Table(
    "deadline_misses",
    metadata,
    Column("flow_run_id", RUN_ID, _run_fk(), primary_key=True),
    Column("flow", String(255), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("missed_at", UTCDateTime(), nullable=False),
    # "scheduler" or "driver": who saw it first
    Column("seen_by", String(16), nullable=False),
)
Index("ix_deadline_misses_flow_missed_at", deadline_misses.c.flow, deadline_misses.c.missed_at)

task_runs = Table(
    "task_runs",
    metadata,
    Column("flow_run_id", RUN_ID, _run_fk(), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("name", String(512), nullable=False),
    Column("state", STATE, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("map_index", Integer),
    Column("fingerprint", String(128), nullable=False, default=""),
    Column("upstream", JSONValue(), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("resources", JSONValue(), nullable=False),
    Column("kind", String(16), nullable=False, default="task"),
    Column("child_run_id", RUN_ID),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("result_uri", Text),
    Column("result_inline", LargeBinary),
    Column("result_size", Integer),
    Column("result_serializer", String(64)),
    Column("result_preview", Text),
    Column("error", JSONValue()),
    Column("cache_key", String(255)),
    Column("cached_from", String(600)),
    Column("label", String(512)),
    # "group" is an SQL keyword
    Column("task_group", String(512)),
    Column("teardown", Boolean, nullable=False, default=False, server_default=false()),
    # a user marked the call SUCCEEDED (``runs mark-success``): who, and when
    Column("marked_by", String(255)),
    Column("marked_at", UTCDateTime()),
)
Index("ix_task_runs_flow_run_id_state", task_runs.c.flow_run_id, task_runs.c.state)
# Cross-run caching looks up a task's earlier successful result by (task name, cache key).
# Partial: most calls have no cache key, and indexing their NULLs made inserts ~40% slower.
_CACHED = task_runs.c.cache_key.isnot(None)
_CACHE_INDEX = Index(
    "ix_task_runs_name_cache_key",
    task_runs.c.name,
    task_runs.c.cache_key,
    sqlite_where=_CACHED,
)


def add_postgresql_options() -> None:
    """Give the tables their PostgreSQL-only options (the partial index's WHERE).

    Called when a PostgreSQL engine is created: naming a ``postgresql_`` option imports
    SQLAlchemy's PostgreSQL dialect (about 30 ms), which a SQLite user's commands never need.
    """
    _CACHE_INDEX.dialect_options["postgresql"]["where"] = _CACHED


task_attempts = Table(
    "task_attempts",
    metadata,
    Column("flow_run_id", RUN_ID, _run_fk(), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("state", STATE, nullable=False),
    Column("queued_at", UTCDateTime()),
    Column("started_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("error", JSONValue()),
    Column("worker", String(255)),
    Column("log_path", Text),
    # where the attempt ran: this host's name, or the id of the Ray node that ran it
    Column("node", String(255)),
    # the executor it ran with (local, ray, a plugin's name), as the call's options chose it
    Column("executor", String(64)),
)

metrics = Table(
    "metrics",
    metadata,
    # BIGINT on PostgreSQL; SQLite needs exactly INTEGER for the rowid alias.
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("flow_run_id", RUN_ID, _run_fk(), nullable=False, index=True),
    Column("key", KEY, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer),
    Column("logged_at", UTCDateTime(), nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("flow_run_id", RUN_ID, _run_fk(), nullable=False, index=True),
    Column("key", KEY, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("uri", Text),
    Column("size", BigInteger),
    Column("serializer", String(64)),
    Column("preview", Text),
    Column("logged_at", UTCDateTime(), nullable=False),
)

# Asset updates (kind "asset", name = the asset) and finished flow runs (kind "flow_run", name =
# the flow): what on_asset and on_flow triggers consume.
events = Table(
    "events",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("kind", String(16), nullable=False),
    Column("name", String(512), nullable=False),
    Column("flow_run_id", RUN_ID),
    Column("task_key", KEY),
    Column("state", STATE),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_events_kind_name_created_at", events.c.kind, events.c.name, events.c.created_at)

# How far each event trigger of a flow has read the events table: a scheduler that restarts
# goes on from here instead of missing or repeating events.
trigger_cursors = Table(
    "trigger_cursors",
    metadata,
    Column("flow", String(255), primary_key=True),
    Column("trigger", String(512), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

pools = Table(
    "pools",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("slots", Integer, nullable=False),
)

# Runs listed by state or by trigger, newest first (the API's filters), without a sort.
Index("ix_flow_runs_state_created_at", flow_runs.c.state, flow_runs.c.created_at)
Index("ix_flow_runs_trigger_created_at", flow_runs.c.trigger, flow_runs.c.created_at)

# People and scripts who may use the API and the web UI. Passwords are argon2 hashes.
users = Table(
    "users",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# API tokens are kept as sha256 hashes: the token itself is shown once, when it is created.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "username",
        String(255),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    # NULL: the token never expires
    Column("expires_at", UTCDateTime()),
)

# Web UI sessions, by the sha256 hash of the cookie's token; each has its own CSRF token.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "username",
        String(255),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

# Named places with credentials (pauta.connections). ``sealed`` is a Fernet token holding the
# whole URL and the secret extras; only what a listing needs without the key stays in the
# clear: the scheme, the host, the extras that are not secret and the secret extras' names.
connections = Table(
    "connections",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("scheme", String(64), nullable=False),
    Column("host", String(512), nullable=False, default=""),
    Column("extras", JSONValue(), nullable=False),
    Column("secret_keys", JSONValue(), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    # which key sealed it (a short hash of the key, never the key), for errors and rotation
    Column("key_id", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Long-running services (``pauta.services``). The desired state: a service's stable port and
# whether it was stopped, written by deploy, rollback and stop.
services = Table(
    "services",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("port", Integer, nullable=False, unique=True),
    # set by `pauta services stop`; a new revision clears it
    Column("stopped_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Every deployed version of a service. Created PENDING by deploy or rollback; the supervisor
# moves it on (pauta.core.service_states), compare-and-set on the state.
service_revisions = Table(
    "service_revisions",
    metadata,
    Column(
        "service",
        String(64),
        ForeignKey("services.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("state", STATE, nullable=False),
    # app or command, config, replicas, health path, ready timeout, resources, path, cwd
    Column("spec", JSONValue(), nullable=False),
    # a rollback's revision runs the spec of this earlier one
    Column("rollback_of", Integer),
    Column("created_by", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("ready_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    # why it failed or was superseded, with the log tail of the replica that failed
    Column("error", Text),
)
Index("ix_service_revisions_state", service_revisions.c.state)

# What the supervisor sees of each service it runs (replicas, health, restarts, traffic), so
# that every process on the database can show it; written only by the supervisor.
service_status = Table(
    "service_status",
    metadata,
    Column(
        "service",
        String(64),
        ForeignKey("services.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("supervisor", String(255), nullable=False),
    Column("status", JSONValue(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The one supervisor that runs the services of this database: a lease renewed by its
# heartbeat; another supervisor takes over once it expires (or at once when the holder was on
# the same host and its process is gone).
service_supervisors = Table(
    "service_supervisors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    # the address clients use to reach the services' ports
    Column("address_host", String(255), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
)

# What is still to be sent to MLflow (PAUTA_MLFLOW_TRACKING_URI), in the order it was written:
# each row is written in the transaction of the record it mirrors and deleted once MLflow has
# it. ``kind`` names the item (run, run_state, metric, param, artifact, task_state).
mlflow_outbox = Table(
    "mlflow_outbox",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("flow_run_id", RUN_ID, _run_fk(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("payload", JSONValue(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The MLflow run each flow run (key "") and task call was mirrored to: a resent item finds its
# run here instead of creating another.
mlflow_runs = Table(
    "mlflow_runs",
    metadata,
    Column("flow_run_id", RUN_ID, _run_fk(), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("mlflow_run_id", String(64), nullable=False),
    Column("experiment_id", String(64), nullable=False),
)
