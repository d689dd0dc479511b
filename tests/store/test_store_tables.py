"""The schema: the tables, keys and indexes the store and the UI rely on."""

from __future__ import annotations

import sqlalchemy as sa

from pauta.store import tables
from pauta.store.repository import Store
from pauta.store.types import UTCDateTime

RESULT = {"result_uri", "result_inline", "result_size", "result_serializer", "result_preview"}

COLUMNS = {
    "flows": {
        "name",
        "description",
        "parameters_schema",
        "schedule",
        "timezone",
        "paused",
        "source",
        "updated_at",
        "max_active_runs",
    },
    "flow_runs": {
        "id",
        "flow",
        "state",
        "params",
        "logical_date",
        "interval_start",
        "interval_end",
        "trigger",
        "schedule_key",
        "parent_run_id",
        "parent_key",
        "triggered_by",
        "triggered_by_key",
        "code_hash",
        "flow_ref",
        "priority",
        "tags",
        "created_at",
        "started_at",
        "ended_at",
        "driver_host",
        "driver_pid",
        "lease_epoch",
        "heartbeat_at",
        "error",
        "cancel_requested_at",
        "due_at",
        "deadline_at",
        "deadline_cancel",
        *RESULT,
    },
    "task_runs": {
        "flow_run_id",
        "key",
        "name",
        "state",
        "attempts",
        "map_index",
        "fingerprint",
        "upstream",
        "priority",
        "resources",
        "kind",
        "child_run_id",
        "created_at",
        "started_at",
        "ended_at",
        "error",
        "cache_key",
        "cached_from",
        "label",
        "task_group",
        "teardown",
        "marked_by",
        "marked_at",
        *RESULT,
    },
    "task_attempts": {
        "flow_run_id",
        "key",
        "attempt",
        "state",
        "queued_at",
        "started_at",
        "ended_at",
        "error",
        "worker",
        "log_path",
        "node",
        "executor",
    },
    "metrics": {"id", "flow_run_id", "key", "attempt", "name", "value", "step", "logged_at"},
    "artifacts": {
        "id",
        "flow_run_id",
        "key",
        "attempt",
        "name",
        "uri",
        "size",
        "serializer",
        "preview",
        "logged_at",
    },
    "pools": {"name", "slots"},
    "events": {"id", "kind", "name", "flow_run_id", "task_key", "state", "created_at"},
    "trigger_cursors": {"flow", "trigger", "position"},
    "users": {"username", "password_hash", "role", "created_at"},
    "api_tokens": {"id", "username", "token_hash", "created_at", "last_used_at", "expires_at"},
    "sessions": {"id", "username", "csrf_token", "created_at", "expires_at"},
    "connections": {
        "name",
        "scheme",
        "host",
        "extras",
        "secret_keys",
        "sealed",
        "key_id",
        "created_at",
        "updated_at",
    },
    "deadline_misses": {"flow_run_id", "flow", "due_at", "missed_at", "seen_by"},
    "services": {"name", "port", "stopped_at", "created_at", "updated_at"},
    "service_revisions": {
        "service",
        "revision",
        "state",
        "spec",
        "rollback_of",
        "created_by",
        "created_at",
        "started_at",
        "ready_at",
        "ended_at",
        "error",
    },
    "service_status": {"service", "supervisor", "status", "updated_at"},
    "service_supervisors": {
        "name",
        "holder",
        "host",
        "pid",
        "address_host",
        "epoch",
        "heartbeat_at",
    },
    "mlflow_outbox": {"id", "flow_run_id", "kind", "payload", "created_at"},
    "mlflow_runs": {"flow_run_id", "key", "mlflow_run_id", "experiment_id"},
}

PRIMARY_KEYS = {
    "flows": ["name"],
    "flow_runs": ["id"],
    "task_runs": ["flow_run_id", "key"],
    "task_attempts": ["flow_run_id", "key", "attempt"],
    "metrics": ["id"],
    "artifacts": ["id"],
    "pools": ["name"],
    "events": ["id"],
    "trigger_cursors": ["flow", "trigger"],
    "users": ["username"],
    "api_tokens": ["id"],
    "sessions": ["id"],
    "connections": ["name"],
    "deadline_misses": ["flow_run_id"],
    "services": ["name"],
    "service_revisions": ["service", "revision"],
    "service_status": ["service"],
    "service_supervisors": ["name"],
    "mlflow_outbox": ["id"],
    "mlflow_runs": ["flow_run_id", "key"],
}


def test_every_table_has_its_columns_and_key() -> None:
    assert set(tables.metadata.tables) == set(COLUMNS)
    for name, columns in COLUMNS.items():
        table = tables.metadata.tables[name]
        assert {c.name for c in table.c} == columns, name
        assert [c.name for c in table.primary_key] == PRIMARY_KEYS[name], name


def test_every_timestamp_is_utc_aware() -> None:
    for table in tables.metadata.tables.values():
        for column in table.c:
            if column.name.endswith(("_at", "_date", "_start", "_end")):
                assert isinstance(column.type, UTCDateTime), f"{table.name}.{column.name}"


def test_runs_own_their_tasks_attempts_metrics_and_artifacts() -> None:
    for table in (tables.task_runs, tables.task_attempts, tables.metrics, tables.artifacts):
        (fk,) = table.foreign_keys
        assert fk.target_fullname == "flow_runs.id"
        assert fk.ondelete == "CASCADE"


def test_schedule_key_is_unique_and_optional() -> None:
    column = tables.flow_runs.c.schedule_key
    assert column.nullable
    uniques = [c for c in tables.flow_runs.constraints if isinstance(c, sa.UniqueConstraint)]
    assert [[c.name for c in u.columns] for u in uniques] == [["schedule_key"]]


def test_indexes_cover_what_listings_filter_on(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    found = {
        (table, tuple(ix["column_names"]))
        for table in COLUMNS
        for ix in inspector.get_indexes(table)
    }
    assert {
        ("flow_runs", ("flow", "created_at")),
        ("flow_runs", ("created_at",)),
        ("flow_runs", ("state",)),
        ("flow_runs", ("parent_run_id",)),
        ("task_runs", ("flow_run_id", "state")),
        ("task_runs", ("name", "cache_key")),
        ("metrics", ("flow_run_id",)),
    } <= found


def test_paused_defaults_to_false_in_the_database(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO flows (name, description) VALUES ('f', '')"))
    assert store.get_flow("f")["paused"] is False  # type: ignore[index]
