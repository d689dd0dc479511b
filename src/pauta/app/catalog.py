"""The flows of the flows folder as the API and the UI show them: one view per flow (schedule,
next run, paused, parameters) and one per file that failed to load.

Discovery imports files in child processes, which is far too slow for every request: a
``FlowCatalog`` keeps the last discovery. In `pauta server` it reads what the scheduler's
background scan found; elsewhere it scans the folder again when its last scan is older than
``max_age`` seconds (only changed files are imported again).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pauta.core.errors import DefinitionError, FlowLoadError, PautaError
from pauta.definitions.deadlines import Deadline
from pauta.definitions.schedules import from_spec
from pauta.scheduling.discovery import (
    Discovery,
    FlowInfo,
    LoadError,
    discover,
    flows_folder,
    sync_to_store,
)
from pauta.scheduling.ticks import next_tick
from pauta.store.deadlines import deadline_record
from pauta.store.repository import Store

DiscoverySource = Callable[[], Discovery | None]


class UnknownFlowError(PautaError):
    """No flow of this name was found in the flows folder."""


def next_run(info: FlowInfo, now: datetime) -> str | None:
    """When the flow's schedule next ticks (ISO 8601, UTC), or None without a time schedule
    (or with one that cannot tick: ``next_run_error`` says why)."""
    return _next_run(info, now)[0]


def next_run_error(info: FlowInfo, now: datetime) -> str | None:
    """Why a flow's schedule has no next run when it should have one, such as a calendar that
    is never open; None when nothing is wrong."""
    return _next_run(info, now)[1]


def _next_run(info: FlowInfo, now: datetime) -> tuple[str | None, str | None]:
    if not info.schedule_spec:
        return None, None
    try:
        schedule = from_spec(info.schedule_spec)
        start = datetime.fromisoformat(info.start) if info.start else None
        end = datetime.fromisoformat(info.end) if info.end else None
        tick = next_tick(schedule, info.timezone, now, start=start, end=end)
    except DefinitionError as exc:
        return None, str(exc)  # a calendar that is never open, a zone that is gone
    except (ValueError, TypeError, KeyError):
        return None, None  # an event trigger, or a spec this version cannot evaluate
    return (tick.isoformat() if tick else None), None


def flow_view(info: FlowInfo, paused: bool, now: datetime) -> dict[str, Any]:
    """A flow as `pauta flows show --json` prints it (its next run after ``now``, and
    ``next_run_error``: why there is none when there should be one)."""
    upcoming, problem = _next_run(info, now)
    return {
        **info.to_dict(),
        "next_run": upcoming,
        "next_run_error": problem,
        "paused": paused,
        "error": None,
    }


DEADLINE_HISTORY = 20
"""How many recent runs "missed 3 of the last 20" counts."""


def deadline_view(store: Store, info: FlowInfo) -> dict[str, Any] | None:
    """How the flow's last runs kept its deadline (None without one): ``{"text": "within
    2:00:00 of the logical date", "missed": 3, "runs": 20, "summary": "missed 3 of the last
    20", "missed_runs": [...]}``."""
    if not info.deadline:
        return None
    deadline = Deadline.from_spec(info.deadline)
    record = deadline_record(store, info.name, DEADLINE_HISTORY)
    return {
        "text": deadline.describe(),
        "missed": record.missed,
        "runs": record.runs,
        "summary": record.describe(),
        "missed_runs": list(record.missed_runs),
    }


def load_error_view(error: LoadError) -> dict[str, Any]:
    """A file that failed, with the keys of a flow (null) so every item has one shape."""
    keys = [f.name for f in dataclasses.fields(FlowInfo)] + ["next_run", "next_run_error", "paused"]
    view: dict[str, Any] = dict.fromkeys(keys)
    view.update(file=str(error.file), line=error.line, error=error.to_dict())
    return view


class FlowCatalog:
    """The last discovery of one flows folder, for one store."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        *,
        source: DiscoverySource | None = None,
        max_age: float = 10.0,
    ) -> None:
        self.store = store
        self.folder = folder
        self.source = source
        self.max_age = max_age
        self._found: Discovery | None = None
        self._scanned = 0.0
        self._lock = threading.Lock()

    def discovery(self) -> Discovery:
        """What the folder holds now (as of the last scan, at most ``max_age`` seconds ago)."""
        if self.source is not None:
            found = self.source()
            if found is not None:
                return found
        clock = self.store.clock
        with self._lock:
            if self._found is None or clock.monotonic() - self._scanned > self.max_age:
                self._found = self._scan(self._found)
                self._scanned = clock.monotonic()
            return self._found

    def _scan(self, previous: Discovery | None) -> Discovery:
        try:
            found = discover(self.folder, previous=previous, clock=self.store.clock)
        except FlowLoadError as exc:
            error = LoadError(self.folder, None, str(exc), "FlowsFolderMissing")
            return Discovery(self.folder, {}, [error], self.store.clock.now())
        sync_to_store(found, self.store)
        return found

    def info(self, name: str) -> FlowInfo:
        """The flow named ``name``; UnknownFlowError when the folder defines none."""
        found = self.discovery()
        info = found.flows.get(name)
        if info is None:
            raise UnknownFlowError(
                f"no flow named {name!r} in {found.folder}; list the flows with "
                "GET /api/v1/flows or `pauta flows list`"
            )
        return info

    def paused(self) -> dict[str, bool]:
        return {row["name"]: bool(row["paused"]) for row in self.store.list_flows()}

    def views(self) -> list[dict[str, Any]]:
        """Every flow (by name), then every file that failed to load."""
        found = self.discovery()
        paused = self.paused()
        now = self.store.clock.now()
        views = [
            flow_view(info, paused.get(name, False), now) for name, info in found.flows.items()
        ]
        return views + [load_error_view(error) for error in found.errors]

    def view(self, name: str) -> dict[str, Any]:
        """One flow, with how its recent runs kept its deadline (``deadline_misses``)."""
        info = self.info(name)
        row = self.store.get_flow(name)
        view = flow_view(info, bool(row and row["paused"]), self.store.clock.now())
        view["deadline_misses"] = deadline_view(self.store, info)
        return view

    def set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        """Pause or unpause a flow's schedule; returns its view."""
        self.info(name)
        self.store.set_paused(name, paused)
        return self.view(name)


_catalogs: weakref.WeakKeyDictionary[Store, dict[Path, FlowCatalog]] = weakref.WeakKeyDictionary()
_catalogs_lock = threading.Lock()


def catalog(
    store: Store, folder: Path | None = None, *, source: DiscoverySource | None = None
) -> FlowCatalog:
    """The shared catalog of ``folder`` (default: the flows folder) for ``store``; ``source``,
    when given, makes it read another component's discoveries (the server's scheduler)."""
    folder = (folder or flows_folder()).expanduser().absolute()
    with _catalogs_lock:
        by_folder = _catalogs.setdefault(store, {})
        found = by_folder.get(folder)
        if found is None:
            found = by_folder[folder] = FlowCatalog(store, folder, source=source)
        elif source is not None:
            found.source = source
        return found
