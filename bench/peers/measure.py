"""Time one whole process from outside and sample the peak RSS of its process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_INTERVAL_S = 0.05


@dataclass
class Sample:
    seconds: float
    peak_rss: int
    returncode: int
    timed_out: bool
    # The machine is shared: the 1-minute load average just before the run says how busy it was.
    load: float


class TreeSampler(threading.Thread):
    """Polls /proc for every process of the measured tree and keeps the largest total RSS.

    The command starts in a session of its own. A process belongs to the tree when it is in
    that session (Prefect's API server subprocess, even once re-parented) or when its parent
    belongs (pauta's workers start sessions of their own, so that each can be killed with its
    children). A process is looked at once, when first seen, to learn its session and parent;
    after that only members' RSS is read, which keeps each poll to a directory listing plus a
    few small reads.
    """

    def __init__(self, session: int) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.peak = 0
        self._members: set[int] = {session}
        self._others: set[int] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.poll()
            self._stop_event.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def poll(self) -> None:
        pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        # Lower pids first: a parent is usually classified before its children.
        for pid in sorted(pids - self._members - self._others):
            session, parent = _session_and_parent(pid)
            member = session == self.session or parent in self._members
            (self._members if member else self._others).add(pid)
        self._others &= pids
        self._members &= pids
        self.peak = max(self.peak, sum(_rss(pid) for pid in self._members))


def _session_and_parent(pid: int) -> tuple[int | None, int | None]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None, None
    # Fields after the command name, which is in parentheses and may contain spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[3]), int(fields[1])


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _kill_session(pid: int) -> None:
    """Ends whatever the measured process left behind, so it cannot slow the next one."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_measured(
    argv: list[str], env: dict[str, str], cwd: Path, cap_s: float, log: Path
) -> Sample:
    """Run argv to completion (or kill it at cap_s); wall time from spawn to exit."""
    load = os.getloadavg()[0]
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        # A blocking wait returns the moment the process exits; wait(timeout=...) polls with
        # sleeps of up to 50 ms, which would round every measurement up by that much.
        capped = threading.Event()

        def kill_at_cap() -> None:
            capped.set()
            _kill_session(process.pid)

        cap = threading.Timer(cap_s, kill_at_cap)
        cap.start()
        process.wait()
        seconds = time.perf_counter() - started
        cap.cancel()
        timed_out = capped.is_set()
        sampler.stop()
    _kill_session(process.pid)
    return Sample(seconds, sampler.peak, process.returncode, timed_out, load)
