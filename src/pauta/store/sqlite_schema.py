"""The SQLite schema at HEAD, rendered from pauta.store.tables by pauta.store.schema_render:
do not edit; run `python -m pauta.store.schema_render`."""

# ruff: noqa: E501

HEAD = "0015"

# CREATE statements of every table and index, then Alembic's version table
DDL = (
    "CREATE TABLE connections (\n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tscheme VARCHAR(64) NOT NULL, \n"
    "\thost VARCHAR(512) NOT NULL, \n"
    "\textras JSON NOT NULL, \n"
    "\tsecret_keys JSON NOT NULL, \n"
    "\tsealed BLOB NOT NULL, \n"
    "\tkey_id VARCHAR(16) NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tupdated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_connections PRIMARY KEY (name)\n"
    ")",
    "CREATE TABLE events (\n"
    "\tid INTEGER NOT NULL, \n"
    "\tkind VARCHAR(16) NOT NULL, \n"
    "\tname VARCHAR(512) NOT NULL, \n"
    "\tflow_run_id VARCHAR(16), \n"
    "\ttask_key VARCHAR(512), \n"
    "\tstate VARCHAR(32), \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_events PRIMARY KEY (id)\n"
    ")",
    "CREATE INDEX ix_events_kind_name_created_at ON events (kind, name, created_at)",
    "CREATE TABLE flow_runs (\n"
    "\tid VARCHAR(16) NOT NULL, \n"
    "\tflow VARCHAR(255) NOT NULL, \n"
    "\tstate VARCHAR(32) NOT NULL, \n"
    "\tparams JSON NOT NULL, \n"
    "\tlogical_date DATETIME NOT NULL, \n"
    "\tinterval_start DATETIME NOT NULL, \n"
    "\tinterval_end DATETIME NOT NULL, \n"
    '\t"trigger" VARCHAR(32) NOT NULL, \n'
    "\tschedule_key VARCHAR(512), \n"
    "\tparent_run_id VARCHAR(16), \n"
    "\tparent_key VARCHAR(512), \n"
    "\ttriggered_by VARCHAR(16), \n"
    "\ttriggered_by_key VARCHAR(512), \n"
    "\tcode_hash VARCHAR(128) NOT NULL, \n"
    "\tflow_ref JSON NOT NULL, \n"
    "\tpriority INTEGER NOT NULL, \n"
    "\ttags JSON NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tstarted_at DATETIME, \n"
    "\tended_at DATETIME, \n"
    "\tdriver_host VARCHAR(255), \n"
    "\tdriver_pid INTEGER, \n"
    "\tlease_epoch INTEGER DEFAULT '0' NOT NULL, \n"
    "\theartbeat_at DATETIME, \n"
    "\tresult_uri TEXT, \n"
    "\tresult_inline BLOB, \n"
    "\tresult_size INTEGER, \n"
    "\tresult_serializer VARCHAR(64), \n"
    "\tresult_preview TEXT, \n"
    "\terror JSON, \n"
    "\tcancel_requested_at DATETIME, \n"
    "\tdue_at DATETIME, \n"
    "\tdeadline_at DATETIME, \n"
    "\tdeadline_cancel BOOLEAN DEFAULT 0 NOT NULL, \n"
    "\tCONSTRAINT pk_flow_runs PRIMARY KEY (id), \n"
    "\tCONSTRAINT uq_flow_runs_schedule_key UNIQUE (schedule_key)\n"
    ")",
    "CREATE INDEX ix_flow_runs_created_at ON flow_runs (created_at)",
    "CREATE INDEX ix_flow_runs_flow_created_at ON flow_runs (flow, created_at)",
    "CREATE INDEX ix_flow_runs_parent_run_id ON flow_runs (parent_run_id)",
    "CREATE INDEX ix_flow_runs_state ON flow_runs (state)",
    "CREATE INDEX ix_flow_runs_state_created_at ON flow_runs (state, created_at)",
    "CREATE INDEX ix_flow_runs_state_deadline_at ON flow_runs (state, deadline_at)",
    'CREATE INDEX ix_flow_runs_trigger_created_at ON flow_runs ("trigger", created_at)',
    "CREATE TABLE flows (\n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tdescription TEXT NOT NULL, \n"
    "\tparameters_schema JSON, \n"
    "\tschedule TEXT, \n"
    "\ttimezone VARCHAR(64), \n"
    "\tpaused BOOLEAN DEFAULT 0 NOT NULL, \n"
    "\tsource TEXT, \n"
    "\tupdated_at DATETIME, \n"
    "\tmax_active_runs INTEGER, \n"
    "\tCONSTRAINT pk_flows PRIMARY KEY (name)\n"
    ")",
    "CREATE TABLE pools (\n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tslots INTEGER NOT NULL, \n"
    "\tCONSTRAINT pk_pools PRIMARY KEY (name)\n"
    ")",
    "CREATE TABLE service_supervisors (\n"
    "\tname VARCHAR(64) NOT NULL, \n"
    "\tholder VARCHAR(255) NOT NULL, \n"
    "\thost VARCHAR(255) NOT NULL, \n"
    "\tpid INTEGER NOT NULL, \n"
    "\taddress_host VARCHAR(255) NOT NULL, \n"
    "\tepoch INTEGER NOT NULL, \n"
    "\theartbeat_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_service_supervisors PRIMARY KEY (name)\n"
    ")",
    "CREATE TABLE services (\n"
    "\tname VARCHAR(64) NOT NULL, \n"
    "\tport INTEGER NOT NULL, \n"
    "\tstopped_at DATETIME, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tupdated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_services PRIMARY KEY (name), \n"
    "\tCONSTRAINT uq_services_port UNIQUE (port)\n"
    ")",
    "CREATE TABLE trigger_cursors (\n"
    "\tflow VARCHAR(255) NOT NULL, \n"
    '\t"trigger" VARCHAR(512) NOT NULL, \n'
    "\tposition BIGINT NOT NULL, \n"
    '\tCONSTRAINT pk_trigger_cursors PRIMARY KEY (flow, "trigger")\n'
    ")",
    "CREATE TABLE users (\n"
    "\tusername VARCHAR(255) NOT NULL, \n"
    "\tpassword_hash TEXT NOT NULL, \n"
    "\trole VARCHAR(16) NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_users PRIMARY KEY (username)\n"
    ")",
    "CREATE TABLE api_tokens (\n"
    "\tid VARCHAR(32) NOT NULL, \n"
    "\tusername VARCHAR(255) NOT NULL, \n"
    "\ttoken_hash VARCHAR(64) NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tlast_used_at DATETIME, \n"
    "\texpires_at DATETIME, \n"
    "\tCONSTRAINT pk_api_tokens PRIMARY KEY (id), \n"
    "\tCONSTRAINT fk_api_tokens_username_users FOREIGN KEY(username) REFERENCES users (username) ON "
    "DELETE CASCADE, \n"
    "\tCONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash)\n"
    ")",
    "CREATE INDEX ix_api_tokens_username ON api_tokens (username)",
    "CREATE TABLE artifacts (\n"
    "\tid INTEGER NOT NULL, \n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    '\t"key" VARCHAR(512) NOT NULL, \n'
    "\tattempt INTEGER NOT NULL, \n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\turi TEXT, \n"
    "\tsize BIGINT, \n"
    "\tserializer VARCHAR(64), \n"
    "\tpreview TEXT, \n"
    "\tlogged_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_artifacts PRIMARY KEY (id), \n"
    "\tCONSTRAINT fk_artifacts_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES flow_runs "
    "(id) ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_artifacts_flow_run_id ON artifacts (flow_run_id)",
    "CREATE TABLE deadline_misses (\n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    "\tflow VARCHAR(255) NOT NULL, \n"
    "\tdue_at DATETIME NOT NULL, \n"
    "\tmissed_at DATETIME NOT NULL, \n"
    "\tseen_by VARCHAR(16) NOT NULL, \n"
    "\tCONSTRAINT pk_deadline_misses PRIMARY KEY (flow_run_id), \n"
    "\tCONSTRAINT fk_deadline_misses_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES "
    "flow_runs (id) ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_deadline_misses_flow_missed_at ON deadline_misses (flow, missed_at)",
    "CREATE TABLE metrics (\n"
    "\tid INTEGER NOT NULL, \n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    '\t"key" VARCHAR(512) NOT NULL, \n'
    "\tattempt INTEGER NOT NULL, \n"
    "\tname VARCHAR(255) NOT NULL, \n"
    "\tvalue FLOAT NOT NULL, \n"
    "\tstep INTEGER, \n"
    "\tlogged_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_metrics PRIMARY KEY (id), \n"
    "\tCONSTRAINT fk_metrics_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES flow_runs (id) "
    "ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_metrics_flow_run_id ON metrics (flow_run_id)",
    "CREATE TABLE mlflow_outbox (\n"
    "\tid INTEGER NOT NULL, \n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    "\tkind VARCHAR(16) NOT NULL, \n"
    "\tpayload JSON NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_mlflow_outbox PRIMARY KEY (id), \n"
    "\tCONSTRAINT fk_mlflow_outbox_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES "
    "flow_runs (id) ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_mlflow_outbox_flow_run_id ON mlflow_outbox (flow_run_id)",
    "CREATE TABLE mlflow_runs (\n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    '\t"key" VARCHAR(512) NOT NULL, \n'
    "\tmlflow_run_id VARCHAR(64) NOT NULL, \n"
    "\texperiment_id VARCHAR(64) NOT NULL, \n"
    '\tCONSTRAINT pk_mlflow_runs PRIMARY KEY (flow_run_id, "key"), \n'
    "\tCONSTRAINT fk_mlflow_runs_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES flow_runs "
    "(id) ON DELETE CASCADE\n"
    ")",
    "CREATE TABLE service_revisions (\n"
    "\tservice VARCHAR(64) NOT NULL, \n"
    "\trevision INTEGER NOT NULL, \n"
    "\tstate VARCHAR(32) NOT NULL, \n"
    "\tspec JSON NOT NULL, \n"
    "\trollback_of INTEGER, \n"
    "\tcreated_by VARCHAR(255) NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tstarted_at DATETIME, \n"
    "\tready_at DATETIME, \n"
    "\tended_at DATETIME, \n"
    "\terror TEXT, \n"
    "\tCONSTRAINT pk_service_revisions PRIMARY KEY (service, revision), \n"
    "\tCONSTRAINT fk_service_revisions_service_services FOREIGN KEY(service) REFERENCES services "
    "(name) ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_service_revisions_state ON service_revisions (state)",
    "CREATE TABLE service_status (\n"
    "\tservice VARCHAR(64) NOT NULL, \n"
    "\tsupervisor VARCHAR(255) NOT NULL, \n"
    "\tstatus JSON NOT NULL, \n"
    "\tupdated_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_service_status PRIMARY KEY (service), \n"
    "\tCONSTRAINT fk_service_status_service_services FOREIGN KEY(service) REFERENCES services (name) "
    "ON DELETE CASCADE\n"
    ")",
    "CREATE TABLE sessions (\n"
    "\tid VARCHAR(64) NOT NULL, \n"
    "\tusername VARCHAR(255) NOT NULL, \n"
    "\tcsrf_token VARCHAR(64) NOT NULL, \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\texpires_at DATETIME NOT NULL, \n"
    "\tCONSTRAINT pk_sessions PRIMARY KEY (id), \n"
    "\tCONSTRAINT fk_sessions_username_users FOREIGN KEY(username) REFERENCES users (username) ON "
    "DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_sessions_expires_at ON sessions (expires_at)",
    "CREATE INDEX ix_sessions_username ON sessions (username)",
    "CREATE TABLE task_attempts (\n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    '\t"key" VARCHAR(512) NOT NULL, \n'
    "\tattempt INTEGER NOT NULL, \n"
    "\tstate VARCHAR(32) NOT NULL, \n"
    "\tqueued_at DATETIME, \n"
    "\tstarted_at DATETIME, \n"
    "\tended_at DATETIME, \n"
    "\terror JSON, \n"
    "\tworker VARCHAR(255), \n"
    "\tlog_path TEXT, \n"
    "\tnode VARCHAR(255), \n"
    "\texecutor VARCHAR(64), \n"
    '\tCONSTRAINT pk_task_attempts PRIMARY KEY (flow_run_id, "key", attempt), \n'
    "\tCONSTRAINT fk_task_attempts_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES "
    "flow_runs (id) ON DELETE CASCADE\n"
    ")",
    "CREATE TABLE task_runs (\n"
    "\tflow_run_id VARCHAR(16) NOT NULL, \n"
    '\t"key" VARCHAR(512) NOT NULL, \n'
    "\tname VARCHAR(512) NOT NULL, \n"
    "\tstate VARCHAR(32) NOT NULL, \n"
    "\tattempts INTEGER NOT NULL, \n"
    "\tmap_index INTEGER, \n"
    "\tfingerprint VARCHAR(128) NOT NULL, \n"
    "\tupstream JSON NOT NULL, \n"
    "\tpriority INTEGER NOT NULL, \n"
    "\tresources JSON NOT NULL, \n"
    "\tkind VARCHAR(16) NOT NULL, \n"
    "\tchild_run_id VARCHAR(16), \n"
    "\tcreated_at DATETIME NOT NULL, \n"
    "\tstarted_at DATETIME, \n"
    "\tended_at DATETIME, \n"
    "\tresult_uri TEXT, \n"
    "\tresult_inline BLOB, \n"
    "\tresult_size INTEGER, \n"
    "\tresult_serializer VARCHAR(64), \n"
    "\tresult_preview TEXT, \n"
    "\terror JSON, \n"
    "\tcache_key VARCHAR(255), \n"
    "\tcached_from VARCHAR(600), \n"
    "\tlabel VARCHAR(512), \n"
    "\ttask_group VARCHAR(512), \n"
    "\tteardown BOOLEAN DEFAULT 0 NOT NULL, \n"
    "\tmarked_by VARCHAR(255), \n"
    "\tmarked_at DATETIME, \n"
    '\tCONSTRAINT pk_task_runs PRIMARY KEY (flow_run_id, "key"), \n'
    "\tCONSTRAINT fk_task_runs_flow_run_id_flow_runs FOREIGN KEY(flow_run_id) REFERENCES flow_runs "
    "(id) ON DELETE CASCADE\n"
    ")",
    "CREATE INDEX ix_task_runs_flow_run_id_state ON task_runs (flow_run_id, state)",
    "CREATE INDEX ix_task_runs_name_cache_key ON task_runs (name, cache_key) WHERE cache_key IS NOT "
    "NULL",
    "CREATE TABLE alembic_version (\n"
    "\tversion_num VARCHAR(32) NOT NULL, \n"
    "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
    ")",
)

# every table's columns, in table order
COLUMNS = {
    "api_tokens": ("id", "username", "token_hash", "created_at", "last_used_at", "expires_at"),
    "artifacts": (
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
    ),
    "connections": (
        "name",
        "scheme",
        "host",
        "extras",
        "secret_keys",
        "sealed",
        "key_id",
        "created_at",
        "updated_at",
    ),
    "deadline_misses": ("flow_run_id", "flow", "due_at", "missed_at", "seen_by"),
    "events": ("id", "kind", "name", "flow_run_id", "task_key", "state", "created_at"),
    "flow_runs": (
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
        "result_uri",
        "result_inline",
        "result_size",
        "result_serializer",
        "result_preview",
        "error",
        "cancel_requested_at",
        "due_at",
        "deadline_at",
        "deadline_cancel",
    ),
    "flows": (
        "name",
        "description",
        "parameters_schema",
        "schedule",
        "timezone",
        "paused",
        "source",
        "updated_at",
        "max_active_runs",
    ),
    "metrics": ("id", "flow_run_id", "key", "attempt", "name", "value", "step", "logged_at"),
    "mlflow_outbox": ("id", "flow_run_id", "kind", "payload", "created_at"),
    "mlflow_runs": ("flow_run_id", "key", "mlflow_run_id", "experiment_id"),
    "pools": ("name", "slots"),
    "service_revisions": (
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
    ),
    "service_status": ("service", "supervisor", "status", "updated_at"),
    "service_supervisors": (
        "name",
        "holder",
        "host",
        "pid",
        "address_host",
        "epoch",
        "heartbeat_at",
    ),
    "services": ("name", "port", "stopped_at", "created_at", "updated_at"),
    "sessions": ("id", "username", "csrf_token", "created_at", "expires_at"),
    "task_attempts": (
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
    ),
    "task_runs": (
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
        "result_uri",
        "result_inline",
        "result_size",
        "result_serializer",
        "result_preview",
        "error",
        "cache_key",
        "cached_from",
        "label",
        "task_group",
        "teardown",
        "marked_by",
        "marked_at",
    ),
    "trigger_cursors": ("flow", "trigger", "position"),
    "users": ("username", "password_hash", "role", "created_at"),
}

# the columns whose values are converted: datetime (UTC text), json, bool
KINDS = {
    "api_tokens": {"created_at": "datetime", "expires_at": "datetime", "last_used_at": "datetime"},
    "artifacts": {"logged_at": "datetime"},
    "connections": {
        "created_at": "datetime",
        "extras": "json",
        "secret_keys": "json",
        "updated_at": "datetime",
    },
    "deadline_misses": {"due_at": "datetime", "missed_at": "datetime"},
    "events": {"created_at": "datetime"},
    "flow_runs": {
        "cancel_requested_at": "datetime",
        "created_at": "datetime",
        "deadline_at": "datetime",
        "deadline_cancel": "bool",
        "due_at": "datetime",
        "ended_at": "datetime",
        "error": "json",
        "flow_ref": "json",
        "heartbeat_at": "datetime",
        "interval_end": "datetime",
        "interval_start": "datetime",
        "logical_date": "datetime",
        "params": "json",
        "started_at": "datetime",
        "tags": "json",
    },
    "flows": {"parameters_schema": "json", "paused": "bool", "updated_at": "datetime"},
    "metrics": {"logged_at": "datetime"},
    "mlflow_outbox": {"created_at": "datetime", "payload": "json"},
    "mlflow_runs": {},
    "pools": {},
    "service_revisions": {
        "created_at": "datetime",
        "ended_at": "datetime",
        "ready_at": "datetime",
        "spec": "json",
        "started_at": "datetime",
    },
    "service_status": {"status": "json", "updated_at": "datetime"},
    "service_supervisors": {"heartbeat_at": "datetime"},
    "services": {"created_at": "datetime", "stopped_at": "datetime", "updated_at": "datetime"},
    "sessions": {"created_at": "datetime", "expires_at": "datetime"},
    "task_attempts": {
        "ended_at": "datetime",
        "error": "json",
        "queued_at": "datetime",
        "started_at": "datetime",
    },
    "task_runs": {
        "created_at": "datetime",
        "ended_at": "datetime",
        "error": "json",
        "marked_at": "datetime",
        "resources": "json",
        "started_at": "datetime",
        "teardown": "bool",
        "upstream": "json",
    },
    "trigger_cursors": {},
    "users": {"created_at": "datetime"},
}

# the values of columns an INSERT leaves out
DEFAULTS = {
    "api_tokens": {},
    "artifacts": {},
    "connections": {"host": ""},
    "deadline_misses": {},
    "events": {},
    "flow_runs": {"code_hash": "", "deadline_cancel": False, "lease_epoch": 0, "priority": 0},
    "flows": {"description": "", "paused": False},
    "metrics": {},
    "mlflow_outbox": {},
    "mlflow_runs": {},
    "pools": {},
    "service_revisions": {},
    "service_status": {},
    "service_supervisors": {},
    "services": {},
    "sessions": {},
    "task_attempts": {},
    "task_runs": {
        "attempts": 0,
        "fingerprint": "",
        "kind": "task",
        "priority": 0,
        "teardown": False,
    },
    "trigger_cursors": {},
    "users": {},
}
