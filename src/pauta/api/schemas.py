"""Request and response bodies of the REST API (they make its OpenAPI description).

Runs, tasks and flows have the shapes the CLI's ``--json`` prints (``pauta.app.runs.run_view``,
``pauta.app.catalog.flow_view``); these models describe them and pass them through.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Json = dict[str, Any]


class _Out(BaseModel):
    # views may gain keys before these models do: pass them through
    model_config = ConfigDict(extra="allow")


class Run(_Out):
    id: str
    flow: str
    state: str
    params: Json
    params_truncated: bool = Field(
        False,
        description="In listings, true when large parameters were summarised: the run's own "
        "endpoint has them all.",
    )
    logical_date: str
    interval_start: str | None = None
    interval_end: str | None = None
    trigger: str
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration: float | None = None
    parent_run_id: str | None = None
    triggered_by: str | None = Field(
        default=None, description="The run whose trigger_flow call queued this one."
    )
    driver: str | None = None
    result_preview: str | None = None
    error: Json | None = None


class Attempt(_Out):
    attempt: int
    state: str
    started_at: str | None = None
    ended_at: str | None = None
    worker: str | None = None
    node: str | None = Field(
        default=None, description="Where the attempt ran: a host name, or a Ray node's id."
    )
    executor: str | None = Field(
        default=None,
        description="The executor the attempt ran with: local, inline, sensor, venv, "
        "container, ray, or a plugin's name.",
    )
    error: Json | None = None
    interrupted: bool = Field(
        default=False,
        description="Cut off when the run's driver died; the task ran again without using a retry.",
    )


class Task(_Out):
    key: str
    label: str | None = Field(
        default=None,
        description="What people read instead of the key (@task(label=...)); null: the key.",
    )
    group: str | None = Field(
        default=None,
        description="The task group the call was made in (with group(...)), dotted when nested.",
    )
    teardown: bool = Field(
        default=False,
        description="A teardown call: it runs whatever happened before it, and its failure "
        "does not change the run's outcome.",
    )
    marked_by: str | None = Field(
        default=None,
        description="The user who marked the call SUCCEEDED (mark-success); null: it ran.",
    )
    marked_at: str | None = Field(default=None, description="When it was marked SUCCEEDED.")
    name: str
    kind: str
    state: str
    attempts: int = Field(description="How many attempts were made.")
    started_at: str | None = None
    ended_at: str | None = None
    duration: float | None = None
    upstream: list[str] = []
    map_index: int | None = None
    child_run_id: str | None = None
    cached_from: str | None = None
    node: str | None = Field(default=None, description="Where the latest attempt ran.")
    executor: str | None = Field(
        default=None, description="The executor the latest attempt ran with (null: none ran)."
    )
    error: Json | None = None
    result: Json | None = None
    metrics: list[Json] = []
    artifacts: list[Json] = []
    attempt_history: list[Attempt] = []


class RunDetail(Run):
    tasks: list[Task]
    children: list[str] = []
    # the MLflow run it was mirrored to (PAUTA_MLFLOW_TRACKING_URI), when it is an http(s) URL
    mlflow_url: str | None = None


class RunPage(BaseModel):
    runs: list[Run]
    next_cursor: str | None = Field(
        description="Give it as `cursor` to get the next page; null on the last page."
    )


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: Json = Field(default_factory=dict, description="The flow's parameters by name.")


class Parameter(_Out):
    name: str
    type: str
    default: Any = None
    required: bool


class Flow(_Out):
    """A flow (``error`` null), or a file that failed to load (only file, line, error set)."""

    name: str | None = None
    qualname: str | None = None
    file: str | None = None
    line: int | None = None
    description: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    tags: list[str] | None = None
    parameters: list[Parameter] | None = None
    parameters_schema: Json | None = None
    next_run: str | None = None
    next_run_error: str | None = None
    deadline: Json | None = None
    deadline_misses: Json | None = None
    paused: bool | None = None
    error: Json | None = None


class SeriesRun(BaseModel):
    id: str
    state: str
    logical_date: str
    created_at: str


class SeriesPoint(BaseModel):
    run_id: str
    key: str = Field(description="The task call that logged the value, in that run.")
    value: float = Field(description="The call's last value of the metric in that run.")


class MetricSeries(BaseModel):
    label: str = Field(description="The call's label, or its key when it has none.")
    points: list[SeriesPoint] = Field(description="One per run that logged it, oldest first.")


class FlowMetric(BaseModel):
    name: str
    series: list[MetricSeries]


class FlowMetrics(BaseModel):
    """Each metric of a flow's last runs: one series per task call name, a point per run."""

    flow: str
    runs: list[SeriesRun] = Field(description="The runs the series cover, oldest first.")
    metrics: list[FlowMetric]


class Pool(BaseModel):
    name: str
    slots: int


class PoolSize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slots: int = Field(ge=0, le=1_000_000, description="Tasks of the pool that may run at once.")


class LogPiece(BaseModel):
    key: str
    attempt: int
    size: int = Field(description="The log file's size in bytes.")
    offset: int = Field(description="Where `text` starts, in bytes.")
    next_offset: int = Field(description="Give it as `offset` to read what follows.")
    more: bool = Field(description="Whether the file holds more after `next_offset`.")
    text: str


class Logs(BaseModel):
    run_id: str
    logs: list[LogPiece]


class FlowLog(BaseModel):
    """What the run's flow body printed or logged (empty when it wrote nothing)."""

    run_id: str
    size: int = Field(description="The flow log's size in bytes.")
    offset: int = Field(description="Where `text` starts, in bytes.")
    next_offset: int = Field(description="Give it as `offset` to read what follows.")
    more: bool = Field(description="Whether the file holds more after `next_offset`.")
    text: str


class UserOut(BaseModel):
    username: str
    role: str
    created_at: str | None = None


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\s][^\x00-\x1f]*$")
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field(pattern="^(admin|operator|viewer)$")


class NewRole(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern="^(admin|operator|viewer)$")


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=8, max_length=1024)
    current_password: str | None = Field(
        None,
        max_length=1024,
        description="Your current password: needed to change your own, not for an admin "
        "resetting another user's.",
    )


class TokenOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires: str | None = Field(
        None,
        max_length=16,
        description="How long the token works, like 90d, 12h or 30m; without it, until revoked.",
    )


class NewToken(BaseModel):
    username: str
    id: str = Field(description="The token's id, to list or revoke it.")
    token: str = Field(description="The API token; it is shown only this once.")
    expires_at: str | None = Field(None, description="When it stops working; null: never.")


class TokenOut(BaseModel):
    id: str
    username: str
    created_at: str
    last_used_at: str | None = None
    expires_at: str | None = Field(None, description="When it stops working; null: never.")


CONNECTION_NAME = r"^[A-Za-z][A-Za-z0-9_.-]*$"


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=8192,
        description="scheme://user:password@host/...; stored encrypted and never returned "
        "in the clear.",
    )
    extras: dict[str, str] = Field(
        default_factory=dict,
        description="Extras by name (storage options of a filesystem, say); those whose "
        "names look secret (password, secret, token, key...) are treated as secret.",
    )
    secret_extras: dict[str, str] = Field(
        default_factory=dict, description="Extras stored encrypted and shown as ***."
    )


class NewConnection(ConnectionIn):
    name: str = Field(min_length=1, max_length=255, pattern=CONNECTION_NAME)


class ConnectionOut(BaseModel):
    name: str
    url: str = Field(description="The URL with its password and secret parameters as ***.")
    scheme: str
    host: str
    extras: dict[str, str] = Field(description="Extras, the secret ones as ***.")
    secret_extras: list[str] = Field(description="The names of the secret extras.")
    source: str = Field(description='Where `connection(name)` finds it: "environment" or "store".')
    env_var: str = Field(description="The environment variable that overrides the store.")
    stored: bool
    overridden: bool = Field(description="Stored, but the environment variable wins.")
    created_at: str | None = None
    updated_at: str | None = None


class ConnectionTest(BaseModel):
    name: str
    kind: str = Field(description='"sql", "http" or "filesystem".')
    ok: bool
    message: str = Field(description="What was reached, or why not (credentials masked).")
    source: str


class Me(BaseModel):
    username: str
    role: str
    auth: str = Field(description='"bearer" or "session".')


class Health(BaseModel):
    status: str
    flows: int | None = None
    load_errors: int | None = None
    reason: str | None = None  # why the server stopped ("database lost": its file was deleted)


class Error(BaseModel):
    detail: str
