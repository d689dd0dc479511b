"""Long-running services in the metadata store: their ports, revisions, status and the lease
of the one supervisor that runs them.

Who writes what: ``create_revision`` and ``stop_service`` write a service's row (deploy,
rollback and stop); revisions change state only through ``transition`` (compare-and-set on the
state, checked against ``pauta.core.service_states``); the supervisor alone writes the status
rows and the lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pauta.core.errors import StaleWriteError, StoreError
from pauta.core.service_states import (
    REVISION_ACTIVE,
    RevisionState,
    revision_transition_allowed,
)
from pauta.store import db
from pauta.store.repository import Store
from pauta.store.tables import service_revisions, service_status, service_supervisors, services

LEASE = "default"
"""The supervisor lease's row: one supervisor runs the services of a database."""


class ServiceNotFoundError(StoreError):
    """No service has this name (or it has no revision of this number)."""


class PortTakenError(StoreError):
    """Another service already has this port."""


class PortChangedError(StoreError):
    """A deploy asked for a port other than the service's: its address never changes."""


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    name: str
    port: int
    stopped_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RevisionRecord:
    service: str
    revision: int
    state: RevisionState
    spec: dict[str, Any]
    rollback_of: int | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    ready_at: datetime | None
    ended_at: datetime | None
    error: str | None

    @property
    def id(self) -> str:
        """``NAME@N``: what ``services.deploy`` returns."""
        return f"{self.service}@{self.revision}"


@dataclass(frozen=True, slots=True)
class StatusRecord:
    service: str
    supervisor: str
    status: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    holder: str
    host: str
    pid: int
    address_host: str
    epoch: int
    heartbeat_at: datetime


def _service(row: Any) -> ServiceRecord:
    return ServiceRecord(**row._mapping)


def _revision(row: Any) -> RevisionRecord:
    values = dict(row._mapping)
    values["state"] = RevisionState(values["state"])
    return RevisionRecord(**values)


_ENDS = {
    RevisionState.RETIRED,
    RevisionState.STOPPED,
    RevisionState.FAILED,
    RevisionState.SUPERSEDED,
}


class ServicesStore:
    """The services of one ``Store`` (same database, same connection pool)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.clock = store.clock
        self._writer = db.writer(store.engine)
        self._dialect = store.dialect
        self._upsert = store._insert()

    # services and revisions: deploy, rollback, stop ---------------------------------------------
    def create_revision(
        self,
        name: str,
        spec: Mapping[str, Any],
        *,
        port: int | None,
        created_by: str,
        rollback_of: int | None = None,
    ) -> RevisionRecord:
        """Record a new PENDING revision of ``name`` (creating the service on its first one, on
        ``port``, which a new service needs) and clear a stop. PortTakenError when another
        service has the port; PortChangedError when the service has another one."""
        for _ in range(5):  # two deploys of one service at once: one gets the next number
            try:
                return self._create_revision(name, dict(spec), port, created_by, rollback_of)
            except sa.exc.IntegrityError as exc:
                if "port" in str(exc.orig).lower():
                    holder = self._service_on_port(port)
                    raise PortTakenError(
                        f"port {port} is taken by service {holder!r}; choose another port"
                    ) from None
        raise StoreError(f"could not record a revision of {name!r}: too many deploys at once")

    def _create_revision(
        self,
        name: str,
        spec: dict[str, Any],
        port: int | None,
        created_by: str,
        rollback_of: int | None,
    ) -> RevisionRecord:
        now = self.clock.now()
        with self._writer.begin() as conn:
            query = sa.select(services).where(services.c.name == name)
            if self._dialect == "postgresql":
                query = query.with_for_update()
            existing = conn.execute(query).first()
            if existing is None:
                if port is None:
                    raise StoreError(f"a new service ({name!r}) needs a port")
                conn.execute(
                    sa.insert(services).values(
                        name=name, port=port, stopped_at=None, created_at=now, updated_at=now
                    )
                )
            else:
                if port is not None and port != existing.port:
                    raise PortChangedError(
                        f"service {name!r} listens on port {existing.port}; a service's address "
                        f"never changes, so a revision cannot move it to {port}"
                    )
                conn.execute(
                    sa.update(services)
                    .where(services.c.name == name)
                    .values(stopped_at=None, updated_at=now)
                )
            newest = conn.execute(
                sa.select(sa.func.max(service_revisions.c.revision)).where(
                    service_revisions.c.service == name
                )
            ).scalar()
            values = {
                "service": name,
                "revision": int(newest or 0) + 1,
                "state": str(RevisionState.PENDING),
                "spec": spec,
                "rollback_of": rollback_of,
                "created_by": created_by[:255],
                "created_at": now,
            }
            conn.execute(sa.insert(service_revisions).values(**values))
        return self.revision(name, int(values["revision"]))

    def _service_on_port(self, port: int | None) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(services.c.name).where(services.c.port == port)).scalar()

    def stop_service(self, name: str) -> ServiceRecord:
        """Ask the supervisor to stop ``name`` (its revisions stay, a new one starts it again)."""
        now = self.clock.now()
        with self._writer.begin() as conn:
            stmt = (
                sa.update(services)
                .where(services.c.name == name, services.c.stopped_at.is_(None))
                .values(stopped_at=now, updated_at=now)
            )
            if conn.execute(stmt).rowcount == 0 and not self._exists(conn, name):
                raise ServiceNotFoundError(f"no service named {name!r}")
        return self.service(name)

    @staticmethod
    def _exists(conn: sa.Connection, name: str) -> bool:
        found = conn.execute(sa.select(services.c.name).where(services.c.name == name)).first()
        return found is not None

    def service(self, name: str) -> ServiceRecord:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(services).where(services.c.name == name)).first()
        if row is None:
            raise ServiceNotFoundError(f"no service named {name!r}")
        return _service(row)

    def list_services(self) -> list[ServiceRecord]:
        """Every service, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(services).order_by(services.c.name))
            return [_service(row) for row in rows]

    def revision(self, name: str, revision: int) -> RevisionRecord:
        query = sa.select(service_revisions).where(
            service_revisions.c.service == name, service_revisions.c.revision == revision
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise ServiceNotFoundError(f"service {name!r} has no revision {revision}")
        return _revision(row)

    def revisions(self, name: str, limit: int = 100) -> list[RevisionRecord]:
        """The service's revisions, newest first."""
        query = (
            sa.select(service_revisions)
            .where(service_revisions.c.service == name)
            .order_by(service_revisions.c.revision.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_revision(row) for row in conn.execute(query)]

    def revisions_in(self, states: Iterable[RevisionState]) -> list[RevisionRecord]:
        """Every revision in ``states``, by service and number (the supervisor's desired state
        reads the active ones)."""
        query = (
            sa.select(service_revisions)
            .where(service_revisions.c.state.in_([str(s) for s in states]))
            .order_by(service_revisions.c.service, service_revisions.c.revision)
        )
        with self.engine.connect() as conn:
            return [_revision(row) for row in conn.execute(query)]

    def active_revisions(self) -> list[RevisionRecord]:
        return self.revisions_in(REVISION_ACTIVE)

    def serving_revisions(self) -> dict[str, int]:
        """The SERVING revision of each service that has one."""
        return {r.service: r.revision for r in self.revisions_in([RevisionState.SERVING])}

    # the one way a revision changes state ------------------------------------------------------
    def transition(
        self,
        name: str,
        revision: int,
        expected: RevisionState,
        new: RevisionState,
        *,
        error: str | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        """Move a revision from ``expected`` to ``new`` (compare-and-set), stamping when it
        started, got ready or ended. StaleWriteError when it was not in ``expected``;
        StoreError for a move the states do not allow."""
        if not revision_transition_allowed(expected, new):
            raise StoreError(f"a revision cannot go from {expected} to {new}")
        now = self.clock.now()
        values: dict[str, Any] = {"state": str(new)}
        if new is RevisionState.STARTING:
            values["started_at"] = now
        elif new is RevisionState.SERVING:
            values["ready_at"] = now
        if new in _ENDS:
            values["ended_at"] = now
        if error is not None:
            values["error"] = error
        stmt = (
            sa.update(service_revisions)
            .where(
                service_revisions.c.service == name,
                service_revisions.c.revision == revision,
                service_revisions.c.state == str(expected),
            )
            .values(**values)
        )
        if conn is not None:
            changed = conn.execute(stmt).rowcount
        else:
            with self._writer.begin() as own:
                changed = own.execute(stmt).rowcount
        if changed != 1:
            raise StaleWriteError(
                f"revision {name}@{revision} is no longer {expected}; not moved to {new}"
            )

    def promote(self, name: str, revision: int, replaced: int | None) -> None:
        """In one transaction: ``revision`` STARTING → SERVING and the revision it replaces
        (if any) SERVING → RETIRED."""
        with self._writer.begin() as conn:
            self.transition(
                name, revision, RevisionState.STARTING, RevisionState.SERVING, conn=conn
            )
            if replaced is not None:
                self.transition(
                    name, replaced, RevisionState.SERVING, RevisionState.RETIRED, conn=conn
                )

    # status: the supervisor's view --------------------------------------------------------------
    def write_statuses(self, supervisor: str, statuses: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the status of each service in ``statuses`` (one transaction)."""
        if not statuses:
            return
        now = self.clock.now()
        with self._writer.begin() as conn:
            known = set(conn.execute(sa.select(services.c.name)).scalars())
            for name, status in statuses.items():
                if name not in known:
                    continue
                values = {"supervisor": supervisor, "status": dict(status), "updated_at": now}
                stmt = self._upsert(service_status).values(service=name, **values)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[service_status.c.service], set_=values
                    )
                )

    def statuses(self) -> dict[str, StatusRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(service_status))
            return {row.service: StatusRecord(**row._mapping) for row in rows}

    def status(self, name: str) -> StatusRecord | None:
        query = sa.select(service_status).where(service_status.c.service == name)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return StatusRecord(**row._mapping) if row is not None else None

    # the supervisor's lease ---------------------------------------------------------------------
    def lease(self) -> LeaseRecord | None:
        query = sa.select(service_supervisors).where(service_supervisors.c.name == LEASE)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        values = dict(row._mapping)
        del values["name"]
        return LeaseRecord(**values)

    def take_lease(
        self,
        holder: str,
        host: str,
        pid: int,
        address_host: str,
        *,
        ttl: timedelta,
        dead_holder: str | None = None,
    ) -> int | None:
        """Take the lease when nobody holds it, its heartbeat is older than ``ttl``, or its
        holder is ``dead_holder`` (a process the caller knows has ended). Returns the new epoch,
        or None while another supervisor holds it."""
        now = self.clock.now()
        values = {
            "holder": holder,
            "host": host,
            "pid": pid,
            "address_host": address_host,
            "heartbeat_at": now,
        }
        with self._writer.begin() as conn:
            query = sa.select(service_supervisors).where(service_supervisors.c.name == LEASE)
            if self._dialect == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                conn.execute(sa.insert(service_supervisors).values(name=LEASE, epoch=1, **values))
                return 1
            free = row.heartbeat_at < now - ttl or row.holder in {holder, dead_holder}
            if not free:
                return None
            epoch = int(row.epoch) + 1
            stmt = (
                sa.update(service_supervisors)
                .where(
                    service_supervisors.c.name == LEASE, service_supervisors.c.epoch == row.epoch
                )
                .values(epoch=epoch, **values)
            )
            return epoch if conn.execute(stmt).rowcount == 1 else None

    def renew_lease(self, holder: str, epoch: int) -> bool:
        """Stamp the holder's heartbeat; False when another supervisor took the lease."""
        stmt = (
            sa.update(service_supervisors)
            .where(
                service_supervisors.c.name == LEASE,
                service_supervisors.c.holder == holder,
                service_supervisors.c.epoch == epoch,
            )
            .values(heartbeat_at=self.clock.now())
        )
        with self._writer.begin() as conn:
            return bool(conn.execute(stmt).rowcount == 1)

    def release_lease(self, holder: str, epoch: int) -> None:
        """Give the lease up (a graceful stop), so the next supervisor need not wait."""
        stmt = sa.delete(service_supervisors).where(
            service_supervisors.c.name == LEASE,
            service_supervisors.c.holder == holder,
            service_supervisors.c.epoch == epoch,
        )
        with self._writer.begin() as conn:
            conn.execute(stmt)
