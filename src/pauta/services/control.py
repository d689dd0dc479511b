"""What deploy, rollback, stop and the listings do, for tasks, the CLI, the API and the UI.

Recording a revision needs a live supervisor: without one nothing would start it, and a task
that deploys would wait for nothing (``NoSupervisorError`` says how to start one). Waiting for
a revision reads its state from the store until the supervisor moved it to SERVING (or it
failed, or was superseded).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pauta.core.clock import Clock
from pauta.core.service_states import REVISION_TERMINAL, RevisionState
from pauta.services.errors import DeployFailed, NoSupervisorError, ServiceError, ServiceSpecError
from pauta.services.lease import LEASE_TTL, supervisor_alive
from pauta.services.processes import log_tail
from pauta.services.spec import ServiceSpec, build_spec, check_name, check_port
from pauta.services.views import revision_view, service_detail, service_view
from pauta.store.repository import Store
from pauta.store.services import LeaseRecord, RevisionRecord, ServiceNotFoundError, ServicesStore

PORTS = range(8600, 9000)
"""Where a new service without a port gets one: the first free port here."""
START_GRACE_S = 60.0
"""How much longer than its ready timeout a deploy waits: for the supervisor to pick the
revision up, and for a rollout in progress before it to end."""
NO_SUPERVISOR = (
    "no supervisor runs the services of this database: start `pauta server` (it runs one) or "
    "`pauta services run`"
)
REVISION_REF = re.compile(r"^(?:(?P<name>[a-z0-9][a-z0-9_-]*)@)?(?P<number>\d{1,9})$")


def require_supervisor(services: ServicesStore) -> LeaseRecord:
    lease = services.lease()
    if lease is None or not supervisor_alive(lease, services.clock.now()):
        raise NoSupervisorError(NO_SUPERVISOR)
    return lease


def parse_revision(name: str, ref: str | int) -> int:
    """``3`` or ``NAME@3`` as a revision number of ``name``."""
    match = REVISION_REF.match(str(ref).strip())
    if match is None or (match["name"] and match["name"] != name):
        raise ServiceSpecError(f"{ref!r} is not a revision of {name!r} (use N or {name}@N)")
    return int(match["number"])


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(services: ServicesStore) -> int:
    """The first port of ``PORTS`` that no service has and nothing listens on here."""
    taken = {s.port for s in services.list_services()}
    for port in PORTS:
        if port not in taken and _port_free(port):
            return port
    raise ServiceError(f"no free port from {PORTS.start} to {PORTS.stop - 1}: pass port=")


def record_revision(
    store: Store,
    name: str,
    spec: ServiceSpec,
    *,
    port: int | None,
    created_by: str,
    rollback_of: int | None = None,
) -> RevisionRecord:
    """Record a new PENDING revision for the supervisor to roll out."""
    check_name(name)
    check_port(port)
    services = ServicesStore(store)
    require_supervisor(services)
    check_executor(services, name, spec)
    if port is None:
        try:
            services.service(name)
        except ServiceNotFoundError:
            port = choose_port(services)
    return services.create_revision(
        name, spec.to_json(), port=port, created_by=created_by, rollback_of=rollback_of
    )


def check_executor(services: ServicesStore, name: str, spec: ServiceSpec) -> None:
    """Refuse a revision that would move a service between the local supervisor and Ray: the
    switch could not keep it serving (deploy under a new name instead)."""
    newest = services.revisions(name, limit=1)
    if not newest:
        return
    before = ServiceSpec.from_json(newest[0].spec).executor
    if before != spec.executor:
        raise ServiceSpecError(
            f"service {name!r} runs on executor {before!r}; a revision cannot move it to "
            f"{spec.executor!r}: deploy it under another name (and stop this one)"
        )


def wait_timeout(spec: ServiceSpec) -> float:
    """How long a deploy waits for its revision: on Ray a failed revision is rolled back by a
    redeploy of the previous one, which may take its own ready timeout."""
    extra = spec.ready_timeout if spec.executor == "ray" else 0.0
    return spec.ready_timeout + extra + START_GRACE_S


def rollback(store: Store, name: str, to: str | int | None, created_by: str) -> RevisionRecord:
    """A new revision running the spec of revision ``to`` (default: the one that served before
    the one serving now, or, when none serves, the last one that did)."""
    services = ServicesStore(store)
    services.service(name)
    revisions = services.revisions(name, limit=1000)
    serving = next((r for r in revisions if r.state is RevisionState.SERVING), None)
    if to is not None:
        number = parse_revision(name, to)
        target = next((r for r in revisions if r.revision == number), None)
        if target is None:
            raise ServiceNotFoundError(f"service {name!r} has no revision {number}")
        if serving is not None and serving.revision == number:
            raise ServiceError(f"{target.id} is the revision serving now: nothing to roll back")
    else:
        served = [r for r in revisions if r.ready_at is not None and r is not serving]
        if serving is not None:
            served = [r for r in served if r.revision < serving.revision]
        if not served:
            raise ServiceError(f"service {name!r} has no earlier revision that served")
        target = served[0]
    spec = ServiceSpec.from_json(target.spec)
    return record_revision(
        store, name, spec, port=None, created_by=created_by, rollback_of=target.revision
    )


def stop(store: Store, name: str) -> dict[str, Any]:
    """Ask the supervisor to stop the service; its view."""
    ServicesStore(store).stop_service(name)
    return show(store, name)


def wait_for(
    store: Store,
    name: str,
    revision: int,
    *,
    timeout: float,
    poll: float = 0.2,
    clock: Clock | None = None,
    on_state: Callable[[RevisionRecord], None] | None = None,
) -> RevisionRecord:
    """The revision once it served (it may have been replaced since), or once it ended without
    serving. NoSupervisorError when no supervisor is seen for a lease's lifetime; ServiceError
    after ``timeout`` seconds."""
    services = ServicesStore(store)
    clock = clock or store.clock
    start = clock.monotonic()
    unsupervised_since: float | None = None
    pause = threading.Event()
    seen: RevisionState | None = None
    while True:
        found = services.revision(name, revision)
        if found.state is not seen:
            seen = found.state
            if on_state is not None:
                on_state(found)
        if found.ready_at is not None or found.state in REVISION_TERMINAL:
            return found
        now = clock.monotonic()
        if supervisor_alive(services.lease(), clock.now()):
            unsupervised_since = None
        elif unsupervised_since is None:
            unsupervised_since = now
        elif now - unsupervised_since > LEASE_TTL.total_seconds():
            raise NoSupervisorError(
                f"{found.id} is {found.state} and no supervisor runs the services any more; it "
                "will start when one does"
            )
        if now - start > timeout:
            raise ServiceError(
                f"{found.id} is still {found.state} after {timeout:g} s: is the supervisor busy "
                "with another rollout?"
            )
        pause.wait(poll)


def check_served(revision: RevisionRecord) -> RevisionRecord:
    """``revision`` when it served; DeployFailed (with the reason and log tail) otherwise."""
    if revision.ready_at is not None:
        return revision
    reason = revision.error or f"it ended {revision.state} without serving"
    raise DeployFailed(f"deploying {revision.id} failed: {reason}", revision=revision.id)


# views ----------------------------------------------------------------------------------------
def _revisions(services: ServicesStore, name: str, active: list[RevisionRecord]) -> list[Any]:
    found = services.revisions(name, limit=20)
    numbers = {r.revision for r in found}
    extra = [r for r in active if r.service == name and r.revision not in numbers]
    return sorted([*found, *extra], key=lambda r: r.revision, reverse=True)


def list_views(store: Store) -> list[dict[str, Any]]:
    """Every service, by name."""
    services = ServicesStore(store)
    lease, statuses, now = services.lease(), services.statuses(), store.clock.now()
    active = services.active_revisions()
    return [
        service_view(s, _revisions(services, s.name, active), statuses.get(s.name), lease, now)
        for s in services.list_services()
    ]


def show(store: Store, name: str, *, limit: int = 50) -> dict[str, Any]:
    """One service with its newest revisions."""
    services = ServicesStore(store)
    service = services.service(name)
    revisions = services.revisions(name, limit=limit)
    extra = [
        r
        for r in services.active_revisions()
        if r.service == name and r.revision not in {x.revision for x in revisions}
    ]
    revisions = sorted([*revisions, *extra], key=lambda r: r.revision, reverse=True)
    now = store.clock.now()
    return service_detail(service, revisions, services.status(name), services.lease(), now)


def show_revision(store: Store, name: str, ref: str | int) -> dict[str, Any]:
    return revision_view(ServicesStore(store).revision(name, parse_revision(name, ref)))


def logs(
    store: Store, name: str, *, revision: str | int | None = None, lines: int = 100
) -> list[tuple[str, str]]:
    """``(replica, text)`` for each replica log of a revision (default: the one serving, else
    the newest), from the supervisor's log folder (on its host)."""
    services = ServicesStore(store)
    services.service(name)
    status = services.status(name)
    folder = (status.status.get("logs_dir") if status is not None else None) or ""
    if revision is None:
        revisions = services.revisions(name, limit=1000)
        chosen = next((r for r in revisions if r.state is RevisionState.SERVING), None)
        chosen = chosen or (revisions[0] if revisions else None)
        if chosen is None:
            return []
        number = chosen.revision
    else:
        number = parse_revision(name, revision)
        services.revision(name, number)
    if not folder:
        return []
    paths = sorted(Path(folder).glob(f"r{number}-*.log"), key=lambda p: _index(p.stem))
    return [
        (f"{name}@{number} replica {_index(p.stem)}", log_tail(p, lines, 64 * lines * 4))
        for p in paths
    ]


def _index(stem: str) -> int:
    _, _, index = stem.partition("-")
    return int(index) if index.isdigit() else 0


# deploys from the API ---------------------------------------------------------------------------
PROGRAM_FIELDS = ("app", "command")


def spec_from_request(
    store: Store, name: str, fields: Mapping[str, Any], flows_dir: Path
) -> tuple[ServiceSpec, bool]:
    """The spec a deploy request asks for, and whether it runs new code (an app or command the
    service's current revision does not run, or a new service): only admins may do that.

    Fields the request leaves out are taken from the service's newest revision. A new app's
    module is looked up in the server's flows folder, where a new command also runs.
    """
    check_name(name)
    services = ServicesStore(store)
    current: ServiceSpec | None = None
    revisions = services.revisions(name, limit=1)
    if revisions:
        current = ServiceSpec.from_json(revisions[0].spec)
    given = {k: v for k, v in fields.items() if v is not None}
    asks_program = any(k in given for k in PROGRAM_FIELDS)
    if current is None and not asks_program:
        raise ServiceSpecError(f"service {name!r} is new: give its app or command")
    base: dict[str, Any] = {}
    if current is not None:
        base = {
            "app": current.app,
            "command": list(current.command) if current.command else None,
            "config": dict(current.config),
            "replicas": current.replicas,
            "health": current.health,
            "ready_timeout": current.ready_timeout,
            "resources": current.resources,
            "path": current.path,
            "cwd": current.cwd,
            "executor": current.executor,
            "ray_address": current.ray_address,
            "isolation": current.isolation,
            "requirements": current.requirements,
            "python": current.python,
            "image": current.image,
        }
    if asks_program:
        program = (given.get("app"), given.get("command"))
        unchanged = current is not None and program == (
            current.app,
            list(current.command) if current.command is not None else None,
        )
        base.update(app=program[0], command=program[1])
        if not unchanged:
            base.update(path=(str(flows_dir),), cwd=str(flows_dir))
    for key in ("config", "replicas", "ready_timeout", "resources"):
        if key in given:
            base[key] = given[key]
    if "health" in fields:  # null is meaningful: ready once it accepts connections
        base["health"] = fields["health"]
    spec = build_spec(**base)
    new_code = current is None or not spec.same_program(current)
    return spec, new_code
