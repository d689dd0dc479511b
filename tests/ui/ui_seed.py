"""Many runs written straight into a store, for the tests that check the pages stay fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pauta.store.repository import Store
from pauta.store.tables import flow_runs, task_runs

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
