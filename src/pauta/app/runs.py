"""Reading runs for people and scripts: JSON-ready views of runs, task calls and logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pauta.core.errors import PautaError
from pauta.store.records import (
    ArtifactRecord,
    AttemptRecord,
    FlowRunRecord,
    MetricRecord,
    TaskRunRecord,
)
from pauta.store.repository import Store


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
        "driver": f"{run.driver_host}:{run.driver_pid}" if run.driver_host else None,
        "result_preview": run.result.preview if run.result else None,
        "error": run.error,
    }


def task_view(
    task: TaskRunRecord,
    metrics: list[MetricRecord],
    attempts: list[AttemptRecord],
    artifacts: list[ArtifactRecord] | None = None,
) -> dict[str, Any]:
    """One task call (its latest attempt's view)."""
    return {
        "key": task.key,
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
                "error": a.error,
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
    return view


@dataclass(frozen=True, slots=True)
class LogFile:
    key: str
    attempt: int
    path: Path


def log_files(store: Store, logs_dir: Path, run_id: str, task: str | None = None) -> list[LogFile]:
    """The log files of a run's attempts, optionally of one task (by key or by name).

    Paths come from the store but must lie inside the logs folder: a record can never make the
    CLI or the server read an arbitrary file.
    """
    run = store.get_flow_run(run_id)
    attempts = store.list_attempts(run.id)
    if task is not None:
        chosen = [a for a in attempts if a.key == task]
        if not chosen:
            names = {t.key for t in store.list_task_runs(run.id) if t.name == task}
            chosen = [a for a in attempts if a.key in names]
        if not chosen:
            raise PautaError(
                f"run {run.id} has no task {task!r}; see the keys with `pauta runs show {run.id}`"
            )
        attempts = chosen
    root = logs_dir.resolve()
    found = []
    for attempt in attempts:
        if not attempt.log_path:
            continue
        path = Path(attempt.log_path).resolve()
        if not path.is_relative_to(root):
            continue
        found.append(LogFile(attempt.key, attempt.attempt, path))
    return found
