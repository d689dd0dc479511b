"""Event triggers: create one QUEUED run per new file, asset update or finished flow run.

The decisions are pure functions of (definitions, what was seen, now): which files have
settled, which events a trigger matches, which run key an event gets. ``EventTriggers`` feeds
them from the file system and the store's events table, and records the runs. Every run gets a
unique key made of the flow and the event, so a scheduler that restarts (or a second
scheduler on the same database) never creates a second run for one event; each trigger's
cursor in the store makes a restarted scheduler go on where it stopped, so no event is missed.

A paused flow's triggers do not fire: asset and flow events that happen meanwhile are passed
over; files still waiting when the flow is unpaused start their runs then.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pauta.core.errors import RunNotFoundError
from pauta.definitions.triggers import (
    AssetTrigger,
    FileTrigger,
    FlowTrigger,
    Trigger,
    trigger_from_spec,
    trigger_key,
)
from pauta.scheduling.discovery import FlowInfo
from pauta.scheduling.scheduler import new_run
from pauta.store import events as event_store
from pauta.store.events import Event
from pauta.store.records import FlowRunRecord
from pauta.store.repository import DuplicateRunError, Store

log = logging.getLogger("pauta.scheduler")

GAP_PATIENCE = 60.0
"""Seconds a missing event id is asked about again before it is taken as rolled back."""

CURSOR_SAVE_INTERVAL = 30.0
"""Cursors that moved without firing are saved at most this often: re-reading a few events
after a restart is harmless (run keys are unique); a write per trigger per second is not."""


# -- pure decisions ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SeenFile:
    """A file a pattern matched: its path, modification time (seconds) and size."""

    path: str
    mtime: float
    size: int


def settled_files(files: Iterable[SeenFile], now: float, settle: float) -> list[SeenFile]:
    """The files left unchanged for at least ``settle`` seconds (``now`` is a timestamp), in
    path order: a file still being written is not taken yet."""
    return sorted((f for f in files if now - f.mtime >= settle), key=lambda f: f.path)


def file_run_key(flow: str, seen: SeenFile) -> str:
    """One run per (flow, path, size, modification time): a file replaced later by another
    with the same name is a new file."""
    digest = hashlib.sha256(f"{seen.path}\0{seen.mtime!r}\0{seen.size}".encode()).hexdigest()
    return f"{file_key_prefix(flow)}{digest[:40]}"


def file_key_prefix(flow: str) -> str:
    return f"file:{flow}:"


def event_run_key(flow: str, event: Event) -> str:
    """One run per (flow, event)."""
    return f"{event.kind}:{flow}:{event.id}"


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` fires ``trigger``."""
    if isinstance(trigger, AssetTrigger):
        return event.kind == "asset" and event.name == trigger.asset
    if isinstance(trigger, FlowTrigger):
        same_flow = event.kind == "flow_run" and event.name == trigger.flow
        return same_flow and event.state in trigger.states
    return False


def missing_parameters(info: FlowInfo, given: Iterable[str] = ()) -> list[str]:
    """Parameters without a default that a triggered run would not fill."""
    have = set(given)
    return [p.name for p in info.parameters if p.required and p.name not in have]


# -- the evaluator ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Cursor:
    position: int
    saved: int
    saved_at: float


class EventTriggers:
    """Fires the event triggers of discovered flows; ``evaluate`` is called once a second."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cursors: dict[tuple[str, str], _Cursor] | None = None
        self._gaps: dict[int, float] = {}  # missing event id -> when first missed (timestamp)
        self._file_keys: dict[str, set[str]] = {}  # flow -> keys its file runs carry
        self._warned: set[tuple[str, str]] = set()

    def evaluate(
        self, flows: Iterable[FlowInfo], paused: set[str], now: datetime
    ) -> list[FlowRunRecord]:
        """Create the runs due to new files and events; returns them."""
        file_triggers: list[tuple[FlowInfo, FileTrigger]] = []
        event_triggers: list[tuple[FlowInfo, Trigger]] = []
        for info in flows:
            for spec in info.triggers:
                trigger = trigger_from_spec(spec)
                if isinstance(trigger, FileTrigger):
                    file_triggers.append((info, trigger))
                else:
                    event_triggers.append((info, trigger))
        created: list[FlowRunRecord] = []
        for info, file_trigger in file_triggers:
            if info.name not in paused:
                created.extend(self._fire_files(info, file_trigger, now))
        if event_triggers:
            created.extend(self._fire_events(event_triggers, paused, now))
        return created

    # files ----------------------------------------------------------------------------------
    def _fire_files(
        self, info: FlowInfo, trigger: FileTrigger, now: datetime
    ) -> list[FlowRunRecord]:
        if not self._runnable(info, [trigger.param]):
            return []
        keys = self._file_keys.get(info.name)
        if keys is None:
            keys = event_store.used_run_keys(self.store, info.name, file_key_prefix(info.name))
            self._file_keys[info.name] = keys
        try:
            found = list_files(trigger.pattern)
        except Exception as exc:
            self._warn_once(info.name, f"on_file({trigger.pattern!r}) cannot list files: {exc}")
            return []
        # Forget the keys of files that are gone, so a drop folder's history does not pile up in
        # memory; should such a file come back unchanged, its run key (unique in the store)
        # still refuses a second run.
        keys.intersection_update(file_run_key(info.name, seen) for seen in found)
        created = []
        for seen in settled_files(found, now.timestamp(), trigger.settle):
            key = file_run_key(info.name, seen)
            if key in keys:
                continue
            mtime = datetime.fromtimestamp(seen.mtime, UTC)
            record = new_run(
                info,
                logical_date=mtime,
                interval=(mtime, mtime),
                now=now,
                trigger="file",
                key=key,
                params={trigger.param: seen.path},
            )
            keys.add(key)
            if run := self._create(record):
                created.append(run)
        return created

    # asset and flow events ---------------------------------------------------------------
    def _fire_events(
        self, triggers: list[tuple[FlowInfo, Trigger]], paused: set[str], now: datetime
    ) -> list[FlowRunRecord]:
        cursors = self._load_cursors()
        fresh = {}
        for info, trigger in triggers:
            key = (info.name, trigger_key(trigger))
            if key not in cursors:
                # a trigger seen for the first time fires for what happens from now on
                fresh[key] = None
        if fresh:
            start = event_store.last_event_id(self.store)
            event_store.set_cursors(self.store, dict.fromkeys(fresh, start))
            stamp = now.timestamp()
            for key in fresh:
                cursors[key] = _Cursor(start, start, stamp)
        after = min(cursors[(info.name, trigger_key(t))].position for info, t in triggers)
        found, gaps = event_store.read_events(self.store, after)
        filled = event_store.events_by_id(self.store, self._gaps) if self._gaps else []
        stamp = now.timestamp()
        for event in filled:
            self._gaps.pop(event.id, None)
        for gap in gaps:
            self._gaps.setdefault(gap, stamp)
        self._gaps = {i: t for i, t in self._gaps.items() if stamp - t < GAP_PATIENCE}
        created: list[FlowRunRecord] = []
        newest = found[-1].id if found else after
        fired_cursors: dict[tuple[str, str], int] = {}
        for info, trigger in triggers:
            key = (info.name, trigger_key(trigger))
            cursor = cursors[key]
            candidates = [e for e in found if e.id > cursor.position] + filled
            fired = False
            for event in candidates:
                if not matches(trigger, event) or info.name in paused:
                    continue
                if not self._runnable(info):
                    break
                if run := self._create(self._event_run(info, trigger, event, now)):
                    created.append(run)
                    fired = True
            cursor.position = max(cursor.position, newest)
            due = stamp - cursor.saved_at >= CURSOR_SAVE_INTERVAL
            if cursor.position != cursor.saved and (fired or due):
                fired_cursors[key] = cursor.position
        if fired_cursors:
            event_store.set_cursors(self.store, fired_cursors)
            for key, position in fired_cursors.items():
                cursors[key].saved, cursors[key].saved_at = position, stamp
        return created

    def _event_run(
        self, info: FlowInfo, trigger: Trigger, event: Event, now: datetime
    ) -> FlowRunRecord:
        logical, interval = event.created_at, (event.created_at, event.created_at)
        if isinstance(trigger, FlowTrigger) and event.flow_run_id:
            # the downstream run covers the same logical date as the run it follows
            try:
                source = self.store.get_flow_run(event.flow_run_id)
                logical, interval = (
                    source.logical_date,
                    (
                        source.interval_start,
                        source.interval_end,
                    ),
                )
            except RunNotFoundError:
                pass
        return new_run(
            info,
            logical_date=logical,
            interval=interval,
            now=now,
            trigger="asset" if isinstance(trigger, AssetTrigger) else "flow",
            key=event_run_key(info.name, event),
        )

    def _load_cursors(self) -> dict[tuple[str, str], _Cursor]:
        if self._cursors is None:
            self._cursors = {
                key: _Cursor(position, position, 0.0)
                for key, position in event_store.get_cursors(self.store).items()
            }
        return self._cursors

    # shared -------------------------------------------------------------------------------
    def _create(self, record: FlowRunRecord) -> FlowRunRecord | None:
        try:
            run = self.store.create_flow_run(record)
        except DuplicateRunError:
            return None  # another scheduler (or this one before a restart) created it
        log.info("queued %s (%s trigger) as %s", run.flow, run.trigger, run.id)
        return run

    def _runnable(self, info: FlowInfo, given: Iterable[str] = ()) -> bool:
        missing = missing_parameters(info, given)
        if missing:
            self._warn_once(
                info.name,
                f"flow {info.name!r} has parameters without defaults ({', '.join(missing)}): "
                "its triggers cannot fill them, so they do not fire",
            )
        return not missing

    def _warn_once(self, flow: str, message: str) -> None:
        if (flow, message) not in self._warned:
            self._warned.add((flow, message))
            log.error("%s", message)


def list_files(pattern: str) -> list[SeenFile]:
    """The files ``pattern`` matches now (any fsspec URL; a plain path is local)."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(pattern)
    found = fs.glob(path, detail=True)
    files = []
    for name, info in found.items():
        if info.get("type") != "file":
            continue
        files.append(SeenFile(_full_name(fs, name), _mtime(info), int(info.get("size") or 0)))
    return files


def _full_name(fs: Any, name: str) -> str:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return name if protocol in ("file", "local") else fs.unstrip_protocol(name)


def _mtime(info: dict[str, Any]) -> float:
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)
