"""High availability on PostgreSQL: two `pauta scheduler` and two `pauta worker` processes on one
database, one of each killed with SIGKILL while runs are in flight.

What must hold (DESIGN §2): every schedule tick gets exactly one run; the survivors keep
creating and running runs; the dead worker's in-flight run is resumed by the other worker once
its lease expires and ends SUCCEEDED; a task that had completed never runs again, and only the
tasks cut off by the kill may run twice (at-least-once for what was in flight).

Each task appends ``run key attempt pid start|done`` lines to a file, so the test sees every
execution, including the ones the store never heard of.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pauta.definitions.schedules import Every, schedule_spec
from pauta.scheduling.discovery import FlowInfo
from pauta.scheduling.scheduler import Scheduler
from pauta.store.repository import Store as PautaStore

TICK_SECONDS = 2
FIRST = "step-0"  # the replay key of a run's first task call
LEASE_TTL = "3"  # seconds; the default (30) would make the take-over wait half a minute

FLOW = """
import os
import time

from pauta import Every, context, flow, task

OUT = {out!r}


def mark(what: str) -> None:
    ctx = context()
    # one short write with O_APPEND: lines from concurrent processes never interleave
    with open(OUT, "a") as handle:
        handle.write(f"{{ctx.run_id}} {{ctx.task_key}} {{ctx.attempt}} {{os.getpid()}} {{what}}\\n")


@task
def step(label: str, pause: float) -> str:
    mark("start")
    time.sleep(pause)
    mark("done")
    return label


@flow(schedule=Every(seconds={tick}))
def pulse(pause: float = 0.5) -> list[str]:
    first = step("a", pause)
    second = step("b", pause, wait_for=[first])
    third = step("c", pause, wait_for=[second])
    return [first.result(), second.result(), third.result()]
"""


# processes -------------------------------------------------------------------------------------


def pauta_process(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A `pauta` command in a session of its own, as a service manager would start it; its
    messages go to ``log`` (a pipe nobody reads could fill up and block it)."""
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "pauta", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
        )


def children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid``, read from /proc (task processes start sessions of
    their own, so a process group does not reach them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces: fields after it are split from the last ")"
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def kill_host(proc: subprocess.Popen[bytes]) -> None:
    """A host dying: the process and everything it started, at once."""
    doomed = [proc.pid, *children_of(proc.pid)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def kill_driver(proc: subprocess.Popen[bytes]) -> list[int]:
    """Only the worker process dies; returns its task processes, which must notice and exit."""
    orphans = children_of(proc.pid)
    proc.kill()
    proc.wait()
    return orphans


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    messages = log.read_text(errors="replace")
    assert proc.returncode == 0, messages
    assert "Traceback" not in messages, messages


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            kill_host(proc)


# the store, read directly ------------------------------------------------------------------


@dataclass
class Database:
    url: str

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def runs(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, state, logical_date, schedule_key, trigger, driver_pid, lease_epoch "
            "FROM flow_runs ORDER BY logical_date"
        )

    def tasks(self) -> list[dict[str, Any]]:
        return self.query("SELECT flow_run_id, key, state FROM task_runs")

    def ready(self) -> bool:
        """Whether the schema exists yet (the processes migrate it on start)."""
        found = self.query("SELECT to_regclass('public.flow_runs') AS t")
        return found[0]["t"] is not None


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def lines(out: Path, offset: int = 0) -> list[tuple[str, str, int, int, str]]:
    if not out.exists():
        return []
    with out.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode()
    parsed = []
    for line in text.splitlines():
        run, key, attempt, pid, what = line.split()
        parsed.append((run, key, int(attempt), int(pid), what))
    return parsed


def mid_task(store: Database, out: Path, worker: subprocess.Popen[bytes]) -> bool:
    """Whether ``worker`` drives a run whose first task started and has not finished: the run
    still has two tasks to go, so it is certainly in flight when the kill lands a moment later."""
    driven = {
        r["id"] for r in store.runs() if r["state"] == "RUNNING" and r["driver_pid"] == worker.pid
    }
    seen = Counter((run, what) for run, key, _, _, what in lines(out) if key == FIRST)
    return any(seen[(run, "start")] > seen[(run, "done")] for run in driven)


# the test ------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("kill", ["host", "driver"])
def test_two_schedulers_and_two_workers_survive_losing_one_of_each(
    tmp_path: Path, pg_url: str, processes: list[subprocess.Popen[bytes]], kill: str
) -> None:
    """``host``: the worker and its task processes die together (a machine lost);
    ``driver``: only the worker process dies, and its task processes must stop by themselves."""
    flows, out = tmp_path / "flows", tmp_path / "steps.txt"
    flows.mkdir()
    (flows / "pulse.py").write_text(FLOW.format(out=str(out), tick=TICK_SECONDS))
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home"), "PAUTA_DATABASE_URL": pg_url}
    env["PAUTA_LEASE_TTL"] = LEASE_TTL
    store = Database(pg_url.replace("postgresql+psycopg://", "postgresql://"))

    # all four start at once on an empty database: the migration runs once
    logs = [tmp_path / f"{name}.log" for name in ("scheduler0", "scheduler1", "worker0", "worker1")]
    schedulers = [pauta_process(env, log, "scheduler", "--flows", str(flows)) for log in logs[:2]]
    workers = [
        pauta_process(env, log, "worker", "--poll", "0.2", "--max-runs", "2") for log in logs[2:]
    ]
    processes.extend([*schedulers, *workers])
    victim, survivor = workers

    # phase 1: both pairs at work, until the victim is in the middle of a task
    wait_for("the schema", store.ready)
    wait_for(
        "a few runs to succeed",
        lambda: sum(r["state"] == "SUCCEEDED" for r in store.runs()) >= 3,
    )
    wait_for("the victim worker to be mid-task", lambda: mid_task(store, out, victim))

    orphans = kill_driver(victim) if kill == "driver" else []
    if kill == "host":
        kill_host(victim)
    kill_host(schedulers[0])
    killed_at = datetime.now(UTC)
    # nothing writes for the victim any more: its RUNNING runs are the ones cut off
    in_flight = {
        r["id"] for r in store.runs() if r["state"] == "RUNNING" and r["driver_pid"] == victim.pid
    }
    assert in_flight
    offset = out.stat().st_size
    done_before = {(t["flow_run_id"], t["key"]) for t in store.tasks() if t["state"] == "SUCCEEDED"}

    # phase 2: the survivors carry on
    def carried_on() -> bool:
        runs = store.runs()
        ended = {r["id"] for r in runs if r["state"] == "SUCCEEDED"}
        later = [r for r in runs if r["logical_date"] > killed_at and r["id"] in ended]
        return in_flight <= ended and len(later) >= 3

    wait_for("new ticks to run and the cut-off runs to be resumed", carried_on)
    if orphans:
        wait_for("the dead worker's task processes to exit", lambda: not any(map(alive, orphans)))
    stop(schedulers[1], logs[1])
    wait_for(
        "the queued runs to finish",
        lambda: all(r["state"] not in ("QUEUED", "RUNNING") for r in store.runs()),
    )
    stop(survivor, logs[3])

    runs = store.runs()
    # one run per tick: no logical date twice, ticks on the schedule's grid
    assert {r["trigger"] for r in runs} == {"schedule"}
    dates = [r["logical_date"] for r in runs]
    assert len(dates) == len(set(dates))
    assert len({r["schedule_key"] for r in runs}) == len(runs)
    assert all(d.timestamp() % TICK_SECONDS == 0 for d in dates)
    # everything ended well, and the cut-off runs were taken over by the survivor
    assert {r["state"] for r in runs} == {"SUCCEEDED"}
    by_id = {r["id"]: r for r in runs}
    for run_id in in_flight:
        assert by_id[run_id]["driver_pid"] == survivor.pid
        assert by_id[run_id]["lease_epoch"] >= 2
    tasks = store.tasks()
    assert {t["state"] for t in tasks} == {"SUCCEEDED"}
    assert dict(Counter(t["flow_run_id"] for t in tasks)) == dict.fromkeys(by_id, 3)

    # every task ran: exactly once, except the ones cut off by the kill (at most twice)
    done = Counter((run, key) for run, key, _, _, what in lines(out) if what == "done")
    started = Counter((run, key) for run, key, _, _, what in lines(out) if what == "start")
    for task in tasks:
        call = (task["flow_run_id"], task["key"])
        limit = 2 if call[0] in in_flight else 1
        assert 1 <= done[call] <= limit, (call, done[call])
        assert started[call] <= limit, (call, started[call])
    # and no task that had completed before the kill started again after it
    restarted = {(run, key) for run, key, _, _, what in lines(out, offset) if what == "start"}
    assert not restarted & done_before


# the same guarantee without processes: schedulers remember their ticks, and still agree ------


def every(seconds: int) -> FlowInfo:
    return FlowInfo(
        name="pulse",
        qualname="pulse",
        file=Path("flows/pulse.py"),
        line=1,
        description="",
        schedule=f"every {seconds} seconds",
        timezone="UTC",
        tags=(),
        parameters=(),
        parameters_schema={},
        schedule_spec=schedule_spec(Every(seconds=seconds)),
    )


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 2, 10, minute, second, tzinfo=UTC)


def test_two_schedulers_create_each_tick_once_whichever_comes_first(store: PautaStore) -> None:
    """Each scheduler remembers the next tick of every flow and skips it until then; a tick the
    other one created meanwhile must still be created only once, and a changed definition is
    evaluated afresh."""
    first, second = Scheduler(store), Scheduler(store)
    minutely = [every(60)]
    created = []
    for now, order in (
        (at(0, 30), (first, second)),
        (at(1), (second, first)),  # the other one is first this time
        (at(1, 30), (first, second)),
        (at(5, 10), (second, first)),  # both were stalled: the latest tick only (no catch-up)
    ):
        for scheduler in order:
            created.extend(r.logical_date for r in scheduler.evaluate(minutely, now, paused=set()))
    assert created == [at(0), at(1), at(5)]
    # a rescan found the schedule changed: evaluated again at once, not at the remembered 10:06
    halfminutely = [every(30)]
    assert first.evaluate(halfminutely, at(5, 20), paused=set()) == []
    [run] = first.evaluate(halfminutely, at(5, 30), paused=set())
    assert run.logical_date == at(5, 30)
    assert second.evaluate(halfminutely, at(5, 31), paused=set()) == []
    logical = [r.logical_date for r in store.list_flow_runs(limit=0)]
    assert sorted(logical) == [at(0), at(1), at(5), at(5, 30)]
