"""What MLflow mirroring costs a run: one `Store.write` of N metrics (one group commit), with
the mirror off and on (on: each metric also writes its outbox row, in the same transaction).

    .venv/bin/python bench/mlflow_outbox.py

Prints the median (of 5) milliseconds per write and microseconds per metric, SQLite in WAL mode.
Sending to MLflow happens on the sender thread and is not part of a run's time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pauta.core.ids import new_run_id
from pauta.core.states import FlowRunState
from pauta.store.records import FlowRunRecord, MetricRecord, WriteBatch
from pauta.store.repository import Store

SIZES = [1, 10, 100, 1000, 10000]
REPEAT = 5


def new_run(store: Store, now: datetime) -> FlowRunRecord:
    run = FlowRunRecord(
        id=new_run_id(),
        flow="bench",
        state=FlowRunState.RUNNING,
        params={},
        logical_date=now,
        interval_start=now,
        interval_end=now,
        trigger="manual",
        created_at=now,
        lease_epoch=1,
    )
    store.create_flow_run(run)
    return run


def one_write(store: Store, n: int) -> float:
    now = datetime.now(UTC)
    run = new_run(store, now)
    metrics = [MetricRecord(run.id, "train-0", 1, "loss", 1.0 / (i + 1), i, now) for i in range(n)]
    started = time.perf_counter()
    store.write(WriteBatch(metrics=metrics), now)
    return time.perf_counter() - started


def main() -> None:
    print("| metrics per write | mirror off ms | mirror on ms | off µs / metric | on µs / metric |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'pauta.db'}")
        try:
            for n in SIZES:
                timings = {}
                for mirror in (False, True):
                    store.mirror = mirror
                    one_write(store, n)  # warm the compiled statements
                    timings[mirror] = statistics.median(one_write(store, n) for _ in range(REPEAT))
                off, on = timings[False], timings[True]
                print(
                    f"| {n:,} | {off * 1e3:.2f} | {on * 1e3:.2f} | "
                    f"{off / n * 1e6:.1f} | {on / n * 1e6:.1f} |"
                )
        finally:
            store.close()


if __name__ == "__main__":
    main()
