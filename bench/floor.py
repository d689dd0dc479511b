"""The machine's floor for a whole `pauta run`: the least a durable, parallel run of no-op tasks
could cost in one fresh Python process.

    python bench/floor.py --n 1000 --shape fanout --home /tmp/floor-home
    python bench/floor.py --n 1000 --shape chain --home /tmp/floor-home

It starts Python, a process pool of one worker per core (`os.cpu_count()`, the platform's
default start method unless `--start-method` names another), runs N no-op tasks in it and
commits each result to SQLite in WAL mode (`synchronous=NORMAL`, as pauta's default store) in a
transaction of its own as the result arrives. *fanout*: N independent no-ops, then one sink
once all of them are committed (N + 1 tasks). *chain*: N no-ops one after another, each given
the previous one's result (`--n 1` is one task). The home folder and its database are created
when missing, so a new home pays for the schema. Nothing else: no scheduler, no states, no
logs, no retries. `bench/startup.py` runs this beside `pauta run` and prints the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import sqlite3
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL,
    task INTEGER NOT NULL,
    value BLOB,
    finished_at REAL NOT NULL,
    PRIMARY KEY (run_id, task)
)
"""


def noop(upstream: object = None) -> None:
    return None


def open_database(home: Path) -> sqlite3.Connection:
    home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(home / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    return db


def commit(db: sqlite3.Connection, run_id: str, task: int, future: Future[object]) -> object:
    value = future.result()
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO results (run_id, task, value, finished_at) VALUES (?, ?, ?, ?)",
        (run_id, task, pickle.dumps(value), time.time()),
    )
    db.execute("COMMIT")
    return value


def fanout(pool: ProcessPoolExecutor, db: sqlite3.Connection, run_id: str, n: int) -> None:
    pending = {pool.submit(noop): task for task in range(n)}
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            commit(db, run_id, pending.pop(future), future)
    commit(db, run_id, n, pool.submit(noop))


def chain(pool: ProcessPoolExecutor, db: sqlite3.Connection, run_id: str, n: int) -> None:
    previous: object = None
    for task in range(n):
        previous = commit(db, run_id, task, pool.submit(noop, previous))


def main() -> None:
    parser = argparse.ArgumentParser(description="The floor for a whole `pauta run`.")
    parser.add_argument("--n", type=int, default=1, help="no-op tasks (default 1)")
    parser.add_argument("--shape", choices=["fanout", "chain"], default="fanout")
    parser.add_argument("--home", type=Path, required=True, help="created when missing")
    parser.add_argument(
        "--start-method",
        choices=multiprocessing.get_all_start_methods(),
        help="how the pool starts its workers (default: the platform's)",
    )
    args = parser.parse_args()
    db = open_database(args.home)
    run_id = f"{os.getpid()}-{time.time_ns()}"
    context = multiprocessing.get_context(args.start_method)
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
        (fanout if args.shape == "fanout" else chain)(pool, db, run_id, args.n)
    db.close()


if __name__ == "__main__":
    main()
