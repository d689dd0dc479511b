"""Many runs written straight into a store, for the tests that check the pages stay fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pauta.store.repository import Store
from pauta.store.tables import flow_runs, metrics, task_attempts, task_runs

STATES = ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELLED"]
TASKS = ["load-0", "train-0", "report-0"]


def seed_runs(store: Store, flows: list[str], total: int, *, tasks: bool = True) -> list[str]:
    """``total`` finished runs spread over ``flows`` (one every minute, newest last), each
    with three task calls; returns the run ids, oldest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs, calls, ids = [], [], []
    for i in range(total):
        run_id = f"seed{i:012d}"
        created = start + timedelta(minutes=i)
        state = STATES[i % len(STATES)]
        ids.append(run_id)
        runs.append(
            {
                "id": run_id,
                "flow": flows[i % len(flows)],
                "state": state,
                "params": {"i": i},
                "logical_date": created,
                "interval_start": created,
                "interval_end": created,
                "trigger": "schedule",
                "code_hash": "",
                "flow_ref": {},
                "priority": 0,
                "tags": [],
                "created_at": created,
                "started_at": created,
                "ended_at": created + timedelta(seconds=30),
                "lease_epoch": 1,
            }
        )
        if tasks:
            for n, key in enumerate(TASKS):
                calls.append(
                    {
                        "flow_run_id": run_id,
                        "key": key,
                        "name": key.split("-")[0],
                        "state": state if n == len(TASKS) - 1 else "SUCCEEDED",
                        "attempts": 1,
                        "fingerprint": "",
                        "upstream": TASKS[:n][-1:],
                        "priority": 0,
                        "resources": {},
                        "kind": "task",
                        "created_at": created + timedelta(seconds=n),
                    }
                )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(flow_runs), runs)
        if calls:
            conn.execute(sa.insert(task_runs), calls)
    return ids


def seed_mapped_run(
    store: Store,
    items: int,
    *,
    run_id: str = "mapped0000000000",
    flow: str = "simple",
    state: str = "SUCCEEDED",
    failed_every: int = 0,
) -> str:
    """A run that loads, maps ``process`` over ``items`` items and reduces their results, as
    the engine records it: ``load-0``, ``process-0[0]`` … ``process-0[N-1]`` (each with one
    attempt and a ``loss`` metric), and ``reduce-0`` waiting on every item. With
    ``failed_every`` one item in so many failed (and ``reduce-0`` is UPSTREAM_FAILED)."""
    start = datetime(2026, 2, 1, tzinfo=UTC)
    ended = start + timedelta(seconds=items // 10 + 10)
    run = {
        "id": run_id,
        "flow": flow,
        "state": state,
        "params": {"items": items},
        "logical_date": start,
        "interval_start": start,
        "interval_end": start,
        "trigger": "manual",
        "code_hash": "",
        "flow_ref": {},
        "priority": 0,
        "tags": [],
        "created_at": start,
        "started_at": start,
        "ended_at": None if state == "RUNNING" else ended,
        "lease_epoch": 1,
    }
    keys = [f"process-0[{i}]" for i in range(items)]
    calls, attempts, logged = [], [], []

    def call(key: str, n: int, call_state: str, upstream: list[str], index: int | None) -> None:
        at = start + timedelta(milliseconds=100 * n)
        calls.append(
            {
                "flow_run_id": run_id,
                "key": key,
                "name": key.split("-")[0],
                "state": call_state,
                "attempts": 1,
                "map_index": index,
                "fingerprint": "",
                "upstream": upstream,
                "priority": 0,
                "resources": {},
                "kind": "task",
                "created_at": at,
                "started_at": at,
                "ended_at": at + timedelta(milliseconds=80),
            }
        )
        attempts.append(
            {
                "flow_run_id": run_id,
                "key": key,
                "attempt": 1,
                "state": call_state,
                "queued_at": at,
                "started_at": at,
                "ended_at": at + timedelta(milliseconds=80),
            }
        )

    call("load-0", 0, "SUCCEEDED", [], None)
    any_failed = False
    for i, key in enumerate(keys):
        failed = bool(failed_every) and i % failed_every == failed_every - 1
        any_failed = any_failed or failed
        call(key, i + 1, "FAILED" if failed else "SUCCEEDED", ["load-0"], i)
        logged.append(
            {
                "flow_run_id": run_id,
                "key": key,
                "attempt": 1,
                "name": "loss",
                "value": 1.0 / (i + 1),
                "step": None,
                "logged_at": start,
            }
        )
    call("reduce-0", items + 1, "UPSTREAM_FAILED" if any_failed else "SUCCEEDED", keys, None)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(flow_runs), [run])
        conn.execute(sa.insert(task_runs), calls)
        conn.execute(sa.insert(task_attempts), attempts)
        conn.execute(sa.insert(metrics), logged)
    return run_id


MODELS = ("logreg", "forest")


def accuracy_of(model: str, week: int) -> float:
    """The accuracy the seeded history logs for ``model`` in week ``week``."""
    return round((0.80 if model == "logreg" else 0.83) + 0.004 * week - 0.006 * (week % 3), 4)


def seed_metric_history(
    store: Store, flow: str, weeks: int, *, prefix: str = "week", loss_steps: int = 0
) -> list[str]:
    """``weeks`` finished runs of ``flow`` a week apart (oldest first), each with
    ``train[logreg]`` and ``train[forest]`` logging ``accuracy`` (``accuracy_of``) and, with
    ``loss_steps``, a ``loss`` curve of that many steps."""
    start = datetime(2026, 9, 7, 6, tzinfo=UTC)
    runs, calls, logged, ids = [], [], [], []
    for week in range(weeks):
        run_id = f"{prefix}{week:012d}"[:16]
        when = start + timedelta(weeks=week)
        ids.append(run_id)
        runs.append(
            {
                "id": run_id, "flow": flow, "state": "SUCCEEDED", "params": {"week": week},
                "logical_date": when, "interval_start": when, "interval_end": when,
                "trigger": "schedule", "code_hash": "", "flow_ref": {}, "priority": 0,
                "tags": [], "created_at": when, "started_at": when,
                "ended_at": when + timedelta(seconds=40 + week), "lease_epoch": 1,
            }
        )  # fmt: skip
        for n, model in enumerate(MODELS):
            key = f"train-{n}"
            calls.append(
                {
                    "flow_run_id": run_id, "key": key, "name": "train", "state": "SUCCEEDED",
                    "attempts": 1, "fingerprint": "", "upstream": [], "priority": 0,
                    "resources": {}, "kind": "task", "created_at": when + timedelta(seconds=n),
                    "started_at": when + timedelta(seconds=n),
                    "ended_at": when + timedelta(seconds=20 + n), "label": f"train[{model}]",
                }
            )  # fmt: skip
            logged.append(
                {
                    "flow_run_id": run_id, "key": key, "attempt": 1, "name": "accuracy",
                    "value": accuracy_of(model, week), "step": None, "logged_at": when,
                }
            )  # fmt: skip
            for step in range(loss_steps):
                value = (1.0 if model == "logreg" else 1.2) / (step + 1) + 0.1 * n
                logged.append(
                    {
                        "flow_run_id": run_id, "key": key, "attempt": 1, "name": "loss",
                        "value": value, "step": step, "logged_at": when,
                    }
                )  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(sa.insert(flow_runs), runs)
        conn.execute(sa.insert(task_runs), calls)
        conn.execute(sa.insert(metrics), logged)
    return ids
