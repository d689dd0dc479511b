"""The ``container`` executor: each attempt in its own container, started by the container CLI.

``podman`` by default; ``PAUTA_CONTAINER_CLI`` names another (``docker``) or a command line
(``podman --runtime runc``). One container per attempt, named ``pauta-<run>-<key>-<attempt>``
and labelled ``pauta.run``, ``pauta.key``, ``pauta.attempt`` and ``pauta.worker`` (this
process, ``host:pid``). The task's resources become limits: ``--cpus``, ``--memory`` (swap
included, so the limit bites) and its assigned GPUs as devices. Mounted: an exchange folder
holding the item and, afterwards, the outcome; the attempt's log folder and a local result
store at their own paths, so arguments and results travel as for any task; the pauta home
read-only (``PAUTA_HOME``), so ``secret()`` reads its secrets file; pauta's runtime
(pauta, cloudpickle, cronsim) read-only, so an image needs only a Python of pauta's minor
version; the user's project folders read-only at their own paths, so flow modules import.

A thread per attempt runs the CLI, appends the container's output to the attempt's log as it
comes, kills the container on timeout, cancel or shutdown, and removes it when the attempt
ends. An executor that starts removes the containers a dead pauta process on this host left.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.core.errors import PautaError
from pauta.core.host import hostname
from pauta.executors.base import (
    ErrorInfo,
    FailsAttempts,
    WakePipe,
    Wakeup,
    WorkItem,
    WorkOutcome,
    wake_pipe,
)
from pauta.executors.container_cli import (
    container_cli,
    container_name,
    gpu_options,
    human_memory,
    quietly,
    remove_orphans,
    rm_command,
    ulimits,
)
from pauta.executors.container_entry import (
    BOOT,
    CONFIG_FILE,
    ITEM_FILE,
    OUTCOME_FILE,
    PROBLEM_FILE,
    WRONG_PYTHON,
)
from pauta.executors.envs import RUNTIME_PACKAGES
from pauta.executors.pipe import PROTOCOL
from pauta.executors.processes import append_to_log, log_tail
from pauta.executors.venv import project_paths
from pauta.executors.worker import decode_outcome, worker_name

EXCHANGE = "/pauta/exchange"
RUNTIME = "/pauta/runtime"
_STOP_WAIT = 10.0  # seconds a killed container's CLI process gets to exit
_KILL_EVERY = 0.5  # seconds between kills of a container still being created
_POLL = 0.05  # how often an attempt's thread looks for its end where pidfds are missing


@dataclass(slots=True)
class _Attempt:
    item: WorkItem
    name: str
    why: str = ""  # cancelled or interrupted, once asked to stop
    pipe: tuple[int, int] = field(default_factory=wake_pipe)  # a byte on it: stop

    def stop(self, why: str) -> None:
        self.why = why
        with suppress(OSError):
            os.write(self.pipe[1], b"x")

    def close(self) -> None:
        for fd in self.pipe:
            with suppress(OSError):
                os.close(fd)


class ContainerExecutor(FailsAttempts):
    """Runs each item in a new container of its task's image; up to ``workers`` at once."""

    name = "container"

    def __init__(
        self,
        *,
        workers: int | None = None,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
        cli: Sequence[str] | None = None,
        home: str | os.PathLike[str] | None = None,
    ) -> None:
        self._clock = clock or get_clock()
        self._home = None if home is None else os.path.abspath(home)
        self._size = max(1, workers or os.cpu_count() or 1)
        self._results_url = results_url
        self._inline_max = inline_max
        self._cli = list(cli or container_cli())
        self._worker = worker_name()
        self._wakeup: Wakeup | None = None
        self._pipe: WakePipe | None = None
        self._running: dict[tuple[str, str], _Attempt] = {}
        self._threads: list[threading.Thread] = []
        self._done: deque[WorkOutcome] = deque()
        self._lock = threading.Lock()
        self._closing = False
        self._missing: str | None = None
        self._mounts: list[str] | None = None

    # -- the protocol -------------------------------------------------------------------------
    def start(self, wakeup: Wakeup) -> None:
        """Check the CLI is there and remove the containers dead pauta processes left."""
        self._wakeup = wakeup
        self._pipe = WakePipe(wakeup)
        if shutil.which(self._cli[0]) is None:
            self._missing = (
                f"the container CLI {self._cli[0]!r} is not installed: install podman "
                "(apt-get install podman, dnf install podman, brew install podman) or docker "
                "and set PAUTA_CONTAINER_CLI=docker"
            )
            return
        with suppress(Exception):  # a sweep that fails must not stop the tasks
            remove_orphans(self._cli)

    def slots(self) -> int:
        return self._size

    def submit(self, items: Sequence[WorkItem]) -> None:
        for item in items:
            if self._closing:
                self._finish(self._failed(item, _INTERRUPTED, interrupted=True))
                continue
            if self._missing is not None:
                _note(item, self._missing)
                info = ErrorInfo("ContainerCLIMissing", self._missing, "", "environment")
                self._finish(self._failed(item, info))
                continue
            attempt = _Attempt(item, container_name(item.run.run_id, item.key, item.attempt))
            with self._lock:
                self._running[(item.run.run_id, item.key)] = attempt
            thread = threading.Thread(
                target=self._run, args=(attempt,), name=f"pauta-{attempt.name}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def waitables(self) -> list[Any]:
        assert self._pipe is not None
        return [self._pipe.read_fd]

    def collect(self) -> list[WorkOutcome]:
        self._drain_pipe()
        out: list[WorkOutcome] = []
        while self._done:
            out.append(self._done.popleft())
        return out

    def cancel(self, run_id: str, key: str) -> bool:
        with self._lock:
            attempt = self._running.get((run_id, key))
        if attempt is None:
            return False
        attempt.stop("cancelled")
        return True

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closing:
            return
        self._closing = True
        if kill:
            with self._lock:
                attempts = list(self._running.values())
            for attempt in attempts:
                attempt.stop("interrupted")
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # -- one attempt, on its own thread ---------------------------------------------------------
    def _run(self, attempt: _Attempt) -> None:
        item = attempt.item
        clock = self._clock
        started = clock.timestamp()
        folder = tempfile.mkdtemp(prefix="pauta-container-")
        try:
            outcome = self._attempt(attempt, folder, started)
        except Exception as exc:  # a bug or a full disk must still end the attempt
            info = ErrorInfo(
                type(exc).__name__,
                f"the container executor failed: {exc}",
                traceback.format_exc(),
                "crash",
            )
            outcome = self._failed(item, info, started=started)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with self._lock:
                self._running.pop((item.run.run_id, item.key), None)
            attempt.close()
        self._finish(outcome)

    def _attempt(self, attempt: _Attempt, folder: str, started: float) -> WorkOutcome:
        item = attempt.item
        log_dir = os.path.dirname(item.log_path)
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(folder, ITEM_FILE), "wb") as handle:
            pickle.dump(item, handle, PROTOCOL)
        with open(os.path.join(folder, CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "results_url": self._results_url,
                    "inline_max": self._inline_max,
                    "worker": f"{hostname()}:{attempt.name}",
                },
                handle,
            )
        command = self._command(attempt, folder, log_dir)
        deadline = None if item.timeout is None else started + item.timeout
        with open(item.log_path, "ab") as log:
            # in the attempt's folder: podman's conmon leaves an "oom" file in its working
            # directory when the container is killed for memory
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                cwd=folder,
            )
        try:
            why = _wait(proc, attempt, deadline, self._clock)
            if why:
                self._kill(attempt.name, proc)
            code = proc.wait()
            oom = code == 137 and not why and self._out_of_memory(item)
        finally:
            self._remove(attempt.name)
        return self._outcome(attempt, folder, started, code, why, oom)

    def _outcome(
        self, attempt: _Attempt, folder: str, started: float, code: int, why: str, oom: bool
    ) -> WorkOutcome:
        item = attempt.item
        if why == "timeout":
            text = f"the task ran past its timeout of {item.timeout:g} s; its container was killed"
            _note(item, text)
            return self._failed(item, ErrorInfo("TimeoutError", text, "", "timeout"), started)
        if why == "cancelled":
            _note(item, "the attempt was cancelled; its container was killed")
            return self._failed(item, _CANCELLED, started)
        if why:
            _note(item, "the executor shut down; the task's container was killed")
            return self._failed(item, _INTERRUPTED, started, interrupted=True)
        found = os.path.join(folder, OUTCOME_FILE)
        if os.path.exists(found):
            with open(found, "rb") as handle:
                data = pickle.load(handle)
            return decode_outcome(data, item, f"{hostname()}:{attempt.name}")
        spec = item.container
        assert spec is not None
        if oom:
            text = f"the container ran out of its {human_memory(spec.memory)}"
            _note(item, text)
            return self._failed(item, ErrorInfo("OutOfMemory", text, "", "oom"), started)
        problem = os.path.join(folder, PROBLEM_FILE)
        if code == WRONG_PYTHON and os.path.exists(problem):
            with open(problem, encoding="utf-8") as handle:
                text = handle.read().strip()
            return self._failed(item, ErrorInfo("WrongPython", text, "", "environment"), started)
        if code in (125, 126, 127) and not self._image_exists(spec.image):
            text = (
                f"the container image {spec.image!r} is not on this machine and could not be "
                f"pulled: build it ({self._cli[0]} build -t {spec.image} .), import it "
                f"({self._cli[0]} load -i FILE) or pull it ({self._cli[0]} pull {spec.image})"
            )
            _note(item, text)
            return self._failed(
                item,
                ErrorInfo("ContainerImageMissing", text, log_tail(item.log_path), "environment"),
                started,
            )
        text = f"the task's container exited with code {code} before reporting an outcome"
        _note(item, text)
        return self._failed(
            item, ErrorInfo("ContainerExited", text, log_tail(item.log_path), "crash"), started
        )

    def _command(self, attempt: _Attempt, folder: str, log_dir: str) -> list[str]:
        item = attempt.item
        spec = item.container
        if spec is None:
            raise PautaError(
                f"task {item.task_name!r} has no image: give it isolation='container' and image=..."
            )
        command = [*self._cli, "run", "--name", attempt.name]
        labels = {
            "pauta.run": item.run.run_id,
            "pauta.key": item.key,
            "pauta.attempt": str(item.attempt),
            "pauta.worker": self._worker,
        }
        for label, value in labels.items():
            command += ["--label", f"{label}={value}"]
        command += ulimits()
        command += ["--cpus", f"{spec.cpus:g}"]
        if spec.memory:
            command += ["--memory", f"{spec.memory}b", "--memory-swap", f"{spec.memory}b"]
        command += gpu_options(self._cli[0], item.gpu_ids)
        mounts = [f"{folder}:{EXCHANGE}", f"{log_dir}:{log_dir}"]
        environ = ["PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"]
        if self._home is not None and os.path.isdir(self._home):
            # read-only, for its secrets file; the log folder and results inside stay writable
            mounts.append(f"{self._home}:{self._home}:ro")
            environ.append(f"PAUTA_HOME={self._home}")
        results = self._results_folder()
        if results is not None:
            mounts.append(f"{results}:{results}")
        mounts += self._runtime_mounts()
        paths = [RUNTIME]
        for path in self._project_paths(item):
            mounts.append(f"{path}:{path}:ro")
            paths.append(path)
        for mount in mounts:
            command += ["--volume", mount]
        for variable in [f"PYTHONPATH={os.pathsep.join(paths)}", *environ]:
            command += ["--env", variable]
        wanted = "{}.{}".format(*sys.version_info[:2])
        return [*command, spec.image, "python3", "-c", BOOT, EXCHANGE, wanted]

    def _results_folder(self) -> str | None:
        url = self._results_url
        if "://" in url and not url.startswith("file://"):
            return None  # an object store: the container reaches it as the host does
        path = os.path.abspath(url.removeprefix("file://"))
        os.makedirs(path, exist_ok=True)
        return path

    def _runtime_mounts(self) -> list[str]:
        """pauta's runtime, read-only: the real folders (links would not resolve inside)."""
        if self._mounts is None:
            mounts = []
            for name in RUNTIME_PACKAGES:
                spec = find_spec(name)
                if spec is None:
                    continue
                if spec.submodule_search_locations:
                    target = next(iter(spec.submodule_search_locations))
                elif spec.origin:
                    target = spec.origin
                else:
                    continue
                real = os.path.realpath(target)
                mounts.append(f"{real}:{RUNTIME}/{os.path.basename(real)}:ro")
            self._mounts = mounts
        return self._mounts

    def _project_paths(self, item: WorkItem) -> list[str]:
        paths = project_paths(sys.path)
        if item.task_ref.path:
            paths.append(os.path.dirname(os.path.abspath(item.task_ref.path)))
        kept: list[str] = []
        for entry in paths:
            real = os.path.realpath(entry or os.getcwd())
            if real != os.sep and os.path.isdir(real) and real not in kept:
                kept.append(real)
        return kept

    # -- the CLI's other commands -------------------------------------------------------------
    def _kill(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        """Kill the container; again while its CLI still runs (a container being created
        cannot be killed yet), and the CLI itself when nothing else worked."""
        for _ in range(int(_STOP_WAIT / _KILL_EVERY)):
            quietly([*self._cli, "kill", name])
            with suppress(subprocess.TimeoutExpired):
                proc.wait(_KILL_EVERY)
                return
        proc.kill()

    def _remove(self, name: str) -> None:
        quietly([*rm_command(self._cli), name])

    def _out_of_memory(self, item: WorkItem) -> bool:
        """Whether the container was killed for memory: exit 137 (SIGKILL) that pauta did not
        send, in a container with a memory limit. (The runtime's own OOMKilled flag is not
        reported under every runtime and cgroup version: runc on cgroup v1 leaves it false.)"""
        return item.container is not None and item.container.memory > 0

    def _image_exists(self, image: str) -> bool:
        return bool(quietly([*self._cli, "image", "inspect", "--format", "{{.Id}}", image]).strip())

    # -- helpers ------------------------------------------------------------------------------
    def _finish(self, outcome: WorkOutcome) -> None:
        self._done.append(outcome)
        assert self._pipe is not None
        self._pipe.wake()

    def _drain_pipe(self) -> None:
        assert self._pipe is not None
        self._pipe.drain()


def _wait(
    proc: subprocess.Popen[bytes], attempt: _Attempt, deadline: float | None, clock: Clock
) -> str:
    """Wait for the container's CLI process to end, for a stop or for the deadline: ``""``
    when it ended, else why it must be stopped (timeout, cancelled, interrupted)."""
    pidfd = -1
    with suppress(AttributeError, OSError):  # pidfds: Linux 5.3 and later
        pidfd = os.pidfd_open(proc.pid)
    try:
        while proc.poll() is None:
            left = None if deadline is None else deadline - clock.timestamp()
            if left is not None and left <= 0:
                return "timeout"
            if pidfd < 0:
                left = _POLL if left is None else min(left, _POLL)
            waited = [attempt.pipe[0]] if pidfd < 0 else [attempt.pipe[0], pidfd]
            ready, _, _ = select.select(waited, [], [], left)
            if attempt.pipe[0] in ready:
                return attempt.why or "cancelled"
        return ""
    finally:
        if pidfd >= 0:
            os.close(pidfd)


_INTERRUPTED = ErrorInfo(
    "Interrupted", "the executor shut down before the task finished", "", "interrupted"
)
_CANCELLED = ErrorInfo("Cancelled", "the task was cancelled", "", "cancelled")


def _note(item: WorkItem, text: str) -> None:
    with suppress(OSError):
        os.makedirs(os.path.dirname(item.log_path), exist_ok=True)
    append_to_log(item.log_path, text)
