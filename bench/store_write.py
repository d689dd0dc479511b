"""Recording states: one `Store.write` (one transaction) of N new task calls and their attempts.

    .venv/bin/python bench/store_write.py            # SQLite, and PostgreSQL when reachable

Prints the median (of 5) milliseconds per write and microseconds per task row for batch sizes
1 to 10,000: a chain commits batches of one, a fan-out large batches.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pauta.core.ids import new_run_id
from pauta.core.states import FlowRunState, State
from pauta.store.records import AttemptRecord, FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.repository import Store
from pauta.store.results import StoredResult

SIZES = [1, 10, 100, 1000, 10000]
REPEAT = 5
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


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


def batch(run: FlowRunRecord, n: int, now: datetime) -> WriteBatch:
    result = StoredResult(None, b"\x80\x05N.", 4, "pickle", "None")
    writes = []
    for i in range(n):
        start = now + timedelta(microseconds=i)
        record = TaskRunRecord(
            flow_run_id=run.id,
            key=f"noop-0[{i}]",
            name="noop",
            state=State.SUCCEEDED,
            attempts=1,
            map_index=i,
            fingerprint="0123456789abcdef",
            upstream=["root-0"],
            resources={"cpus": 1.0, "memory": 0, "gpus": 0, "custom": {}},
            created_at=start,
            started_at=start,
            ended_at=start,
            result=result,
        )
        attempt = AttemptRecord(run.id, record.key, 1, State.SUCCEEDED, start, start, start)
        writes.append(TaskWrite(record, None, attempt, None))
    return WriteBatch(fences={run.id: 1}, tasks=writes)


def measure(store: Store) -> list[tuple[int, float]]:
    rows = []
    for n in SIZES:
        times = []
        for _ in range(REPEAT):
            now = datetime.now(UTC)
            run = new_run(store, now)
            prepared = batch(run, n, now)
            started = time.perf_counter()
            store.write(prepared, now)
            times.append(time.perf_counter() - started)
        rows.append((n, statistics.median(times)))
    return rows


def postgres_url() -> str | None:
    try:
        import psycopg

        name = f"pauta_bench_{new_run_id()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"{PG_SERVER}/{name}"
    except Exception:
        return None


def drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    table = Table(title=f"Store.write of N task calls + attempts, median of {REPEAT}")
    for column in ("database", "N", "ms / write", "µs / task"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as folder:
        targets = [("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}")]
        pg = postgres_url()
        if pg:
            targets.append(("postgresql", pg))
        try:
            for name, url in targets:
                store = Store(url)
                try:
                    for n, seconds in measure(store):
                        table.add_row(
                            name, f"{n:,}", f"{seconds * 1000:.2f}", f"{seconds * 1e6 / n:.1f}"
                        )
                finally:
                    store.close()
        finally:
            if pg:
                drop(pg)
    Console().print(table)


if __name__ == "__main__":
    main()
