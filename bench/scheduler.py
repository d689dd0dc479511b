"""The cron loop at scale: 1,000 flows on an every-minute schedule, one `pauta scheduler`.

    .venv/bin/python bench/scheduler.py                      # 1,000 flows, 3 minutes, SQLite
    .venv/bin/python bench/scheduler.py --workers 0          # the scheduler alone
    .venv/bin/python bench/scheduler.py --database-url postgresql+psycopg://postgres@127.0.0.1/b

Generates the flows (``--files`` files sharing ``--flows`` flows, one no-op task each) in a
temporary folder, starts one `pauta scheduler` (and ``--workers`` `pauta worker` processes),
waits for the first discovery to record every flow, then measures for ``--minutes`` minutes:

- scheduler CPU: utime + stime of the scheduler process over the window, as % of one core;
- creation lateness, two ways: ``flow_runs.created_at - logical_date`` (``created_at`` is the
  moment the scheduler's evaluation began) and the time of the scheduler's "queued" log line,
  written after the run's insert committed, minus the logical date;
- start latency: the first task attempt's ``started_at`` minus the run's ``created_at``, for
  the runs that started (workers get ``--drain`` seconds after the window to start the rest).

Only ticks inside the window count: the first evaluation creates the latest tick already past,
up to a minute late by design. A PostgreSQL database should be empty (it is not cleaned up).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from pauta.store.repository import Store
from pauta.store.tables import flow_runs, flows, task_attempts

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
FLOW = """
@flow(schedule="* * * * *")
def bench_{index:04d}() -> None:
    noop()
"""


@dataclass
class Figures:
    cpu_percent: float
    worker_cpu_percent: float | None
    runs: int
    created_late: list[float]
    logged_late: list[float]
    start_latency: list[float]


def write_flows(folder: Path, count: int, files: int) -> None:
    """``count`` flows spread over ``files`` files (discovery imports each file in a process of
    its own, so fewer, larger files are cheaper to scan)."""
    folder.mkdir(parents=True)
    per_file = -(-count // files)
    for number in range(files):
        indexes = range(number * per_file, min(count, (number + 1) * per_file))
        body = "".join(FLOW.format(index=i) for i in indexes)
        header = "from pauta import flow, task\n\n\n@task\ndef noop() -> None:\n    return None\n"
        (folder / f"bench_{number:03d}.py").write_text(header + body)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "pauta", *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_flows(store: Store, count: int, scheduler: subprocess.Popen[bytes]) -> float:
    """Seconds until the first discovery recorded every flow."""
    began = time.monotonic()
    query = sa.select(sa.func.count()).select_from(flows)
    while True:
        if scheduler.poll() is not None:
            raise SystemExit(f"the scheduler exited with code {scheduler.returncode}")
        try:
            with store.engine.connect() as conn:
                if conn.execute(query).scalar() == count:
                    return time.monotonic() - began
        except sa.exc.OperationalError:
            pass  # the scheduler is still creating the schema
        time.sleep(0.2)


def logged_lateness(log: Path, since: datetime, until: datetime) -> list[float]:
    """From "<asctime> pauta.scheduler queued FLOW for LOGICAL_DATE as ID" lines (local time,
    millisecond resolution): seconds from the logical date to the line."""
    late = []
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 8 or parts[2:4] != ["pauta.scheduler", "queued"]:
            continue
        logged = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S,%f").astimezone()
        logical = datetime.fromisoformat(f"{parts[6]} {parts[7]}")  # str(datetime) has a space
        if since < logical <= until:
            late.append((logged - logical).total_seconds())
    return late


def run_figures(store: Store, since: datetime, until: datetime) -> tuple[int, list, list]:
    r, a = flow_runs.c, task_attempts.c
    first_start = (
        sa.select(a.flow_run_id, sa.func.min(a.started_at).label("started"))
        .group_by(a.flow_run_id)
        .subquery()
    )
    query = (
        sa.select(r.logical_date, r.created_at, first_start.c.started)
        .select_from(flow_runs.outerjoin(first_start, first_start.c.flow_run_id == r.id))
        .where(r.logical_date > since, r.logical_date <= until)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    created = [(row.created_at - row.logical_date).total_seconds() for row in rows]
    # min() drops the column type on SQLite: read the text back as an aware UTC datetime
    started = [
        (_aware(row.started) - row.created_at).total_seconds() for row in rows if row.started
    ]
    return len(rows), created, started


def _aware(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def measure(args: argparse.Namespace, folder: Path) -> Figures:
    env = {**os.environ, "PAUTA_HOME": str(folder / "home")}
    env.pop("PAUTA_DATABASE_URL", None)
    url = args.database_url or f"sqlite:///{folder / 'home' / 'pauta.db'}"
    if args.database_url:
        env["PAUTA_DATABASE_URL"] = args.database_url
    (folder / "home").mkdir()
    flows_dir = folder / "flows"
    write_flows(flows_dir, args.flows, args.files)
    log = folder / "scheduler.log"
    scheduler = start(["scheduler", "--flows", str(flows_dir)], env, log)
    workers: list[subprocess.Popen[bytes]] = []
    store = Store(url)
    try:
        discovery = wait_for_flows(store, args.flows, scheduler)
        print(f"first discovery of {args.flows} flows: {discovery:.1f} s", file=sys.stderr)
        workers = [
            start(["worker", *args.worker_args.split()], env, folder / f"worker{n}.log")
            for n in range(args.workers)
        ]
        since = datetime.now(UTC)
        cpu_before = cpu_seconds(scheduler.pid)
        worker_before = sum(cpu_seconds(w.pid) for w in workers)
        began = time.monotonic()
        time.sleep(args.minutes * 60)
        elapsed = time.monotonic() - began
        cpu = (cpu_seconds(scheduler.pid) - cpu_before) / elapsed * 100
        worker_cpu = (sum(cpu_seconds(w.pid) for w in workers) - worker_before) / elapsed * 100
        until = datetime.now(UTC)
        stop(scheduler)
        deadline = time.monotonic() + (args.drain if workers else 0)
        while time.monotonic() < deadline:
            total, _, started = run_figures(store, since, until)
            if len(started) == total:
                break
            time.sleep(1)
        total, created, started = run_figures(store, since, until)
        return Figures(
            cpu_percent=cpu,
            worker_cpu_percent=worker_cpu / len(workers) if workers else None,
            runs=total,
            created_late=created,
            logged_late=logged_lateness(log, since, until),
            start_latency=started,
        )
    finally:
        for proc in [scheduler, *workers]:
            stop(proc)
        store.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(args: argparse.Namespace, figures: Figures) -> None:
    expected = args.flows * int(args.minutes)
    workers = f"{args.workers} x pauta worker {args.worker_args}".strip()
    title = f"{args.flows} every-minute flows, {args.minutes:g} min, {args.db}, {workers}"
    table = Table(title=title)
    for column in ("measure", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    table.add_row("scheduler CPU, % of one core", f"{figures.cpu_percent:.1f}")
    if figures.worker_cpu_percent is not None:
        table.add_row("worker CPU, % of one core (each)", f"{figures.worker_cpu_percent:.1f}")
    table.add_row("runs created in the window", f"{figures.runs} (ticks x flows ~ {expected})")
    for name, values in (
        ("creation lateness (created_at), s", figures.created_late),
        ("creation lateness (committed, log), s", figures.logged_late),
        ("created -> first task started, s", figures.start_latency),
    ):
        table.add_row(name, f"p50 {percentile(values, 50):.3f} / p99 {percentile(values, 99):.3f}")
    table.add_row("runs started", f"{len(figures.start_latency)} of {figures.runs}")
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=1000, help="flows (default 1000)")
    parser.add_argument("--files", type=int, default=10, help="files they are spread over")
    parser.add_argument("--minutes", type=float, default=3.0, help="measured minutes")
    parser.add_argument("--workers", type=int, default=1, help="`pauta worker` processes")
    parser.add_argument(
        "--worker-args", default="", help="options for `pauta worker`, e.g. '--max-runs 32'"
    )
    parser.add_argument("--drain", type=float, default=60.0, help="seconds for workers after")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    args.db = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="pauta-bench-sched-") as folder:
        figures = measure(args, Path(folder))
    report(args, figures)


if __name__ == "__main__":
    main()
