"""Whether a supervisor runs the services of a database: its lease and heartbeat."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from pauta.core.host import hostname
from pauta.store.services import LeaseRecord

LEASE_TTL = timedelta(seconds=15)
"""A supervisor whose heartbeat is older than this is gone; another may take over."""
HEARTBEAT_S = 2.0
"""How often the supervisor stamps its lease (and writes its status)."""


def this_host() -> str:
    return hostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def supervisor_alive(
    lease: LeaseRecord | None,
    now: datetime,
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """Whether ``lease`` belongs to a running supervisor: a fresh heartbeat, and, when it is
    on this host, a process that still exists (a supervisor killed with -9 leaves a fresh
    heartbeat behind for up to the lease's lifetime)."""
    if lease is None or lease.heartbeat_at < now - LEASE_TTL:
        return False
    return lease.host != (host or this_host()) or alive(lease.pid)
