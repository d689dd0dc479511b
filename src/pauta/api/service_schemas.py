"""Request and response bodies of ``/api/v1/services`` (the shapes ``pauta services ...
--json`` prints, from ``pauta.services.views``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Json = dict[str, Any]


class _Out(BaseModel):
    # views may gain keys before these models do: pass them through
    model_config = ConfigDict(extra="allow")


class Revision(_Out):
    id: str = Field(description="`NAME@N`, what `services.deploy` returns.")
    service: str
    revision: int
    state: str = Field(description="PENDING, STARTING, SERVING, RETIRED, STOPPED, FAILED, ...")
    kind: str | None = Field(None, description='"app" or "command".')
    app: str | None = None
    command: list[str] | None = None
    config: Json = {}
    replicas: int | None = None
    health: str | None = None
    ready_timeout: float | None = None
    resources: Json | None = None
    executor: str = Field(
        "local", description='"local" (pauta\'s supervisor) or "ray" (Ray Serve).'
    )
    isolation: str | None = Field(None, description='None, "venv" or "container".')
    image: str | None = None
    requirements: list[str] = []
    rollback_of: int | None = Field(None, description="The revision whose spec this one runs.")
    created_by: str
    created_at: str | None = None
    started_at: str | None = None
    ready_at: str | None = None
    ended_at: str | None = None
    error: str | None = Field(None, description="Why it failed, with the replica's log tail.")


class Replica(_Out):
    revision: int
    index: int
    state: str = Field(description="STARTING, READY, UNHEALTHY, BACKOFF, DRAINING or STOPPED.")
    pid: int | None = None
    port: int | None = None
    node: str | None = Field(None, description="On Ray: the node the replica runs on.")
    restarts: int = 0
    started_at: str | None = None
    health: str | None = None
    last_exit: str | None = None


class Supervisor(_Out):
    holder: str | None = None
    alive: bool
    heartbeat_at: str | None = None


class Service(_Out):
    name: str
    port: int
    executor: str = Field("local", description='"local" (pauta\'s supervisor) or "ray".')
    address: str = Field(
        description="The stable address: it never changes (on Ray: Serve's HTTP address "
        "under /NAME)."
    )
    state: str = Field(
        description="serving, deploying, unavailable, failed, idle, stopping, stopped, or "
        "unsupervised (no supervisor runs the services)."
    )
    revision: int | None = Field(None, description="The revision serving now.")
    revision_id: str | None = None
    deploying: int | None = Field(None, description="A revision being rolled out.")
    replicas: list[Replica] = []
    restarts: int = 0
    traffic: Json = Field(
        default_factory=dict,
        description="requests, errors, rps, p50_ms, p90_ms, p99_ms, in_flight (the supervisor's "
        "counters).",
    )
    problem: str | None = None
    serve: Json | None = Field(None, description="On Ray: Serve's application status, message.")
    supervisor: Supervisor


class ServiceDetail(Service):
    revisions: list[Revision] = []
    logs_dir: str | None = None


class ReplicaLog(BaseModel):
    replica: str
    text: str


class ServiceLogs(BaseModel):
    logs: list[ReplicaLog]


class DeployRequest(BaseModel):
    """A new revision. Fields left out are taken from the service's newest revision; a new app
    or command (or a new service) needs the admin role, and its module is looked up in (and a
    command runs in) the server's flows folder."""

    model_config = ConfigDict(extra="forbid")

    app: str | None = Field(None, max_length=255, description="`module:factory`.")
    command: list[str] | None = Field(None, min_length=1, max_length=256)
    config: Json | None = None
    replicas: int | None = Field(None, ge=1, le=32)
    port: int | None = Field(None, ge=1, le=65535, description="Only for a new service.")
    health: str | None = Field(
        None, max_length=512, description="A path; null: connecting is enough."
    )
    ready_timeout: float | None = Field(None, gt=0, le=3600)
    resources: Json | None = None


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: int | None = Field(
        None, ge=1, le=1_000_000_000, description="Default: the revision that served before."
    )
