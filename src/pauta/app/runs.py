"""Reading runs for people and scripts: JSON-ready views of runs, task calls and logs."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pauta.core.errors import PautaError, StoreError
from pauta.core.settings import mlflow_tracking_uri
from pauta.core.states import FlowRunState
from pauta.store.records import AttemptRecord, FlowRunRecord, TaskRunRecord
from pauta.store.reports import ArtifactRecord, MetricRecord
from pauta.store.repository import Store
from pauta.store.values import json_dumps
from pauta.tracking.links import mlflow_run_url


class UnknownTaskError(PautaError):
    """The run has no task call with this key."""


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with a UTC offset, or None."""
    return value.isoformat() if value is not None else None


def duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def run_view(run: FlowRunRecord) -> dict[str, Any]:
    """A run as the CLI's --json and the API show it."""
    return {
        "id": run.id,
        "flow": run.flow,
        "state": str(run.state),
        "params": run.params,
        "logical_date": iso(run.logical_date),
        "interval_start": iso(run.interval_start),
        "interval_end": iso(run.interval_end),
        "trigger": run.trigger,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration": duration(run.started_at, run.ended_at),
        "parent_run_id": run.parent_run_id,
        "triggered_by": run.triggered_by,
        "driver": f"{run.driver_host}:{run.driver_pid}" if run.driver_host else None,
        "result_preview": run.result.preview if run.result else None,
        "error": run.error,
    }


LISTED_PARAMS_BYTES = 1024
"""Run parameters over this many bytes of JSON are summarised where runs are listed or polled;
the run itself (``GET /api/v1/runs/{id}``, ``pauta runs show``) has them all."""
LISTED_VALUE_BYTES = 200


def listed_params(run_id: str, params: Any) -> tuple[Any, bool]:
    """``params`` as listings show them, and whether they were cut.

    Up to ``LISTED_PARAMS_BYTES`` of JSON they are shown as they are. Past it each value over
    ``LISTED_VALUE_BYTES`` is replaced by a note of its size, and the names that do not fit
    are counted: a page of runs with large parameters stays small.
    """
    if len(json_dumps(params)) <= LISTED_PARAMS_BYTES:
        return params, False
    where = f"GET /api/v1/runs/{run_id} has it"
    if not isinstance(params, dict):
        return f"({_approx_size(len(json_dumps(params)))} of JSON: {where})", True
    shown: dict[str, Any] = {}
    budget = LISTED_PARAMS_BYTES
    for name, value in params.items():
        size = len(json_dumps(value))
        if size > LISTED_VALUE_BYTES:
            value = f"({_approx_size(size)} of JSON: {where})"
        cost = len(json_dumps({name: value}))
        if cost > budget:
            shown["..."] = f"{len(params) - len(shown)} more parameters: {where}"
            break
        shown[name] = value
        budget -= cost
    return shown, True


def _approx_size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    if n_bytes < 1024 * 1024:
        return f"{n_bytes / 1024:.1f} KiB"
    return f"{n_bytes / (1024 * 1024):.1f} MiB"


def listed_run_view(run: FlowRunRecord) -> dict[str, Any]:
    """A run as listings show it: ``run_view`` with large parameters summarised
    (``params_truncated`` says so)."""
    view = run_view(run)
    view["params"], view["params_truncated"] = listed_params(run.id, run.params)
    return view


def task_view(
    task: TaskRunRecord,
    metrics: list[MetricRecord],
    attempts: list[AttemptRecord],
    artifacts: list[ArtifactRecord] | None = None,
) -> dict[str, Any]:
    """One task call (its latest attempt's view)."""
    return {
        "key": task.key,
        "label": task.label,
        "group": task.group,
        "teardown": task.teardown,
        # a user marked it SUCCEEDED (it did not run): who, and when
        "marked_by": task.marked_by,
        "marked_at": iso(task.marked_at),
        "name": task.name,
        "kind": task.kind,
        "state": str(task.state),
        "attempts": task.attempts,
        "started_at": iso(task.started_at),
        "ended_at": iso(task.ended_at),
        "duration": duration(task.started_at, task.ended_at),
        "upstream": task.upstream,
        "map_index": task.map_index,
        "child_run_id": task.child_run_id,
        "cached_from": task.cached_from,
        # where the latest attempt ran (a host name, or the id of the Ray node that ran it)
        "node": attempts[-1].node if attempts else None,
        # the executor the latest attempt ran with (local, ray, a plugin's name)
        "executor": attempts[-1].executor if attempts else None,
        "error": task.error,
        "result": (
            {"preview": task.result.preview, "size": task.result.size, "uri": task.result.uri}
            if task.result
            else None
        ),
        "metrics": [
            {"name": m.name, "value": m.value, "step": m.step, "attempt": m.attempt}
            for m in metrics
        ],
        "artifacts": [
            {
                "name": a.name,
                "attempt": a.attempt,
                "uri": a.stored.uri,
                "size": a.stored.size,
                "kind": a.stored.serializer,
                "preview": a.stored.preview,
            }
            for a in artifacts or []
        ],
        "attempt_history": [
            {
                "attempt": a.attempt,
                "state": str(a.state),
                "started_at": iso(a.started_at),
                "ended_at": iso(a.ended_at),
                "worker": a.worker,
                "node": a.node,
                "executor": a.executor,
                "error": a.error,
                # cut off when its driver died; the task ran again without using a retry
                "interrupted": bool(a.error and a.error.get("kind") == "interrupted"),
            }
            for a in attempts
        ],
    }


def show_run(store: Store, run_id: str) -> dict[str, Any]:
    """A run with one entry per task call."""
    run = store.get_flow_run(run_id)
    metrics: dict[str, list[MetricRecord]] = {}
    for metric in store.list_metrics(run.id):
        metrics.setdefault(metric.key, []).append(metric)
    attempts: dict[str, list[AttemptRecord]] = {}
    for attempt in store.list_attempts(run.id):
        attempts.setdefault(attempt.key, []).append(attempt)
    artifacts: dict[str, list[ArtifactRecord]] = {}
    for artifact in store.list_artifacts(run.id):
        artifacts.setdefault(artifact.key, []).append(artifact)
    view = run_view(run)
    view["tasks"] = [
        task_view(t, metrics.get(t.key, []), attempts.get(t.key, []), artifacts.get(t.key))
        for t in store.list_task_runs(run.id)
    ]
    view["children"] = [c.id for c in store.list_flow_runs(parent_run_id=run.id, limit=0)]
    view["triggered"] = [c.id for c in store.list_flow_runs(triggered_by=run.id, limit=0)]
    view["mlflow_url"] = mlflow_link(store, run.id)
    return view


def mlflow_link(store: Store, run_id: str) -> str | None:
    """The MLflow UI page the run was mirrored to (``PAUTA_MLFLOW_TRACKING_URI``), once its
    MLflow run exists; None without one, or when the tracking URI is not an http(s) URL."""
    uri = mlflow_tracking_uri()
    if uri is None:
        return None
    mirrored = store.mlflow_runs(run_id).get("")
    return mlflow_run_url(uri, mirrored[1], mirrored[0]) if mirrored else None


@dataclass(frozen=True, slots=True)
class LogFile:
    key: str
    attempt: int
    path: Path


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """An attempt and its log; ``path`` is None when the attempt printed nothing."""

    key: str
    attempt: int
    state: str
    path: Path | None


def attempt_logs(
    store: Store, logs_dir: Path, run_id: str, task: str | None = None
) -> list[AttemptLog]:
    """The run's attempts (optionally of one task, by key or by name) with their logs.

    Paths come from the store but must lie inside the logs folder: a record can never make the
    CLI or the server read an arbitrary file (an attempt whose path lies outside is left out).
    """
    run = store.get_flow_run(run_id)
    attempts = store.list_attempts(run.id)
    if task is not None:
        chosen = [a for a in attempts if a.key == task]
        if not chosen:
            names = {t.key for t in store.list_task_runs(run.id) if t.name == task}
            chosen = [a for a in attempts if a.key in names]
        if not chosen:
            raise UnknownTaskError(
                f"run {run.id} has no task {task!r}; see the keys with `pauta runs show {run.id}`"
            )
        attempts = chosen
    root = logs_dir.resolve()
    found = []
    for attempt in attempts:
        path = Path(attempt.log_path).resolve() if attempt.log_path else None
        if path is not None and not path.is_relative_to(root):
            continue
        found.append(AttemptLog(attempt.key, attempt.attempt, str(attempt.state), path))
    return found


def log_files(store: Store, logs_dir: Path, run_id: str, task: str | None = None) -> list[LogFile]:
    """The log files of a run's attempts, optionally of one task (by key or by name); only
    paths inside the logs folder (see ``attempt_logs``)."""
    return [
        LogFile(a.key, a.attempt, a.path)
        for a in attempt_logs(store, logs_dir, run_id, task)
        if a.path is not None
    ]


class RunStateError(StoreError):
    """The run (or task) is not in a state that allows what was asked."""


class BadCursorError(PautaError):
    """A listing cursor that this server did not hand out."""


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of a run listing, and the cursor of the next page (None on the last)."""

    runs: list[FlowRunRecord]
    next_cursor: str | None


def encode_cursor(run: FlowRunRecord) -> str:
    """An opaque cursor that lists the runs after ``run`` (keyset: created_at, id)."""
    raw = f"{run.created_at.isoformat()}|{run.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, run_id = raw.partition("|")
        moment = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursorError(f"cursor {cursor!r} is not one this server handed out") from None
    if not run_id or moment.tzinfo is None:
        raise BadCursorError(f"cursor {cursor!r} is not one this server handed out")
    return moment, run_id


def list_runs(
    store: Store,
    *,
    flow: str | None = None,
    state: str | None = None,
    trigger: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    offset: int = 0,
) -> RunPage:
    """A page of runs, newest first. Give the previous page's ``next_cursor`` for the next one
    (stable while runs are added), or an ``offset``; ``state`` must be a flow run state."""
    if state is not None and state.upper() not in FlowRunState.__members__:
        raise PautaError(f"unknown state {state!r}; use one of {', '.join(FlowRunState)}")
    before = decode_cursor(cursor) if cursor else None
    found = store.list_flow_runs(
        flow=flow,
        state=state.upper() if state else None,
        trigger=trigger,
        before=before,
        limit=limit + 1,
        offset=offset,
        inline_results=False,
    )
    more = len(found) > limit
    runs = found[:limit]
    return RunPage(runs, encode_cursor(runs[-1]) if more and runs else None)


def queue_resume(store: Store, run_id: str) -> FlowRunRecord:
    """Queue a FAILED or CANCELLED run (FAILED/CANCELLED → QUEUED) for a worker to replay:
    calls that succeeded are taken from the store, the others run again.

    RunStateError when the run is still active, succeeded, or is a child run (replaying its
    parent replays it).
    """
    run = store.get_flow_run(run_id)
    if run.parent_run_id is not None:
        raise RunStateError(
            f"run {run.id} is a child run of {run.parent_run_id}: resume the parent run, whose "
            "replay runs this one again"
        )
    reopenable = (FlowRunState.FAILED, FlowRunState.CANCELLED)
    if run.state not in reopenable:
        raise RunStateError(
            f"run {run.id} is {run.state}: only a FAILED or CANCELLED run can be resumed"
        )
    if not store.transition_flow_run(
        run.id, FlowRunState.QUEUED, expected=reopenable, now=store.clock.now()
    ):
        raise RunStateError(f"run {run.id} changed while it was being queued; try again")
    return store.get_flow_run(run.id)


def cancel_run(store: Store, run_id: str) -> FlowRunRecord:
    """Cancel a run: at once when it has not started, else its driver stops it soon.

    RunStateError when the run already ended.
    """
    run = store.get_flow_run(run_id)
    if run.state not in (FlowRunState.SCHEDULED, FlowRunState.QUEUED, FlowRunState.RUNNING):
        raise RunStateError(f"run {run.id} already ended {run.state}: nothing to cancel")
    return store.request_cancel(run.id, store.clock.now())
