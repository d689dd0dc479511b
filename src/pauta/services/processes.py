"""Starting and stopping one replica process, with its log file.

An app replica gets a listening socket bound here (on a free port of the loopback address)
as an inherited file descriptor, so no other process can take its port between choosing and
binding it. A command replica gets a free port in ``$PORT`` and binds it itself. Each replica
runs in a session of its own (so stopping it stops the processes it started) and dies with
the supervisor (``pauta.services.replica``). Its stdout and stderr go to
``<logs>/<service>/r<revision>-<index>.log``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from pauta.services.isolation import (
    ContainerLaunch,
    Launch,
    container_argv,
    container_name,
    stop_container,
)
from pauta.services.replica import EXEC_SHIM
from pauta.services.spec import ServiceSpec

LOG_ROTATE_BYTES = 8 * 1024 * 1024
"""A replica log over this size when the replica starts is kept as ``.log.1`` (one old file)."""
TAIL_LINES = 30
TAIL_BYTES = 4000
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Placement:
    """Which replica a process is: service, revision, index, and where its log goes."""

    service: str
    revision: int
    index: int
    logs_dir: Path

    @property
    def log_path(self) -> Path:
        return self.logs_dir / self.service / f"r{self.revision}-{self.index}.log"


def log_tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES) -> str:
    """The last ``lines`` lines of a log (at most ``max_bytes``), or "" when there is none."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes * 4))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-max_bytes:]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with suppress(OSError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


class ReplicaProcess:
    """A running replica: its process, port and log."""

    def __init__(self, popen: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.popen = popen
        self.port = port
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        """None while it runs (reaps it once it ended)."""
        return self.popen.poll()

    def rss_bytes(self) -> int | None:
        """Resident memory of the replica's main process (Linux), None when unknown."""
        try:
            resident = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        return resident * os.sysconf("SC_PAGE_SIZE")

    def kill(self) -> None:
        """SIGKILL to the replica's session, at once."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    async def stop(self, grace: float) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; its exit code."""
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            waited = 0.0
            while self.popen.poll() is None and waited < grace:
                await asyncio.sleep(0.05)
                waited += 0.05
        # the session's other processes too, even when the leader exited on SIGTERM
        self._signal(signal.SIGKILL)
        while self.popen.poll() is None:
            await asyncio.sleep(0.02)
        return int(self.popen.returncode)


class ContainerReplica(ReplicaProcess):
    """A replica in a container: the container CLI's ``run`` is the process watched; stopping
    it stops and removes the container too."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        cli: tuple[str, ...],
        name: str,
    ) -> None:
        super().__init__(popen, port, log_path)
        self.cli = cli
        self.name = name

    def rss_bytes(self) -> int | None:
        return None  # the container's memory limit is the runtime's (--memory)

    def kill(self) -> None:
        super().kill()
        # the CLI's death does not end the container: remove it (in the background)
        with suppress(OSError):
            subprocess.Popen(
                [*self.cli, "rm", "--force", "--ignore", "--time", "0", self.name]
                if os.path.basename(self.cli[0]) == "podman"
                else [*self.cli, "rm", "--force", self.name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

    async def stop(self, grace: float) -> int:
        code = await super().stop(grace)
        await asyncio.to_thread(stop_container, self.cli, self.name)
        return code


def start_replica(
    spec: ServiceSpec,
    placement: Placement,
    *,
    host: str = LOOPBACK,
    extra_env: Mapping[str, str] | None = None,
    started_at: str = "",
    launch: Launch | None = None,
) -> ReplicaProcess:
    """Start one replica of ``spec`` (in ``launch``'s environment or container); OSError when
    it cannot be started."""
    launch = launch or Launch()
    if launch.container is not None:
        return _start_container(spec, placement, launch.container, host, started_at)
    env = dict(os.environ)
    env.update(extra_env or {})
    env.update(launch.env)
    env.update(
        {
            "PAUTA_SERVICE_NAME": placement.service,
            "PAUTA_SERVICE_REVISION": str(placement.revision),
            "PAUTA_REPLICA": str(placement.index),
            "PAUTA_SERVICE_CONFIG": json.dumps(dict(spec.config)),
            "PAUTA_SUPERVISOR_PID": str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    cwd = spec.cwd if spec.cwd and Path(spec.cwd).is_dir() else None
    log = _open_log(placement.log_path)
    listener: socket.socket | None = None
    try:
        header = (
            f"--- pauta: replica {placement.index} of {placement.service}@{placement.revision} "
            f"starting {started_at} ---\n"
        )
        os.write(log, header.encode())
        if spec.app is not None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((host, 0))
            listener.listen(1024)
            listener.set_inheritable(True)
            port = int(listener.getsockname()[1])
            fd = listener.fileno()
            env["PAUTA_SERVICE_PATH"] = os.pathsep.join(spec.path)
            argv = [
                launch.python,
                "-m",
                "pauta.services.replica",
                "--fd",
                str(fd),
                "--app",
                spec.app,
            ]
            pass_fds: tuple[int, ...] = (fd,)
        else:
            port = _free_port(host)
            env["PORT"] = str(port)
            parent = str(os.getpid())
            # "$PORT" in an argument is the port, as a shell would expand it
            command = [
                arg.replace("${PORT}", str(port)).replace("$PORT", str(port))
                for arg in spec.command or ()
            ]
            argv = [
                sys.executable,
                "-I",
                "-c",
                EXEC_SHIM,
                str(int(signal.SIGKILL)),
                parent,
                *command,
            ]
            pass_fds = ()
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            pass_fds=pass_fds,
            start_new_session=True,
        )
    finally:
        os.close(log)
        if listener is not None:
            listener.close()  # the replica holds its own copy
    return ReplicaProcess(popen, port, placement.log_path)


def _start_container(
    spec: ServiceSpec, placement: Placement, launch: ContainerLaunch, host: str, started_at: str
) -> ReplicaProcess:
    port = _free_port(host)
    name = container_name(
        placement.service, placement.revision, placement.index, time.monotonic_ns()
    )
    env = {
        "PAUTA_SERVICE_NAME": placement.service,
        "PAUTA_SERVICE_REVISION": str(placement.revision),
        "PAUTA_REPLICA": str(placement.index),
        "PAUTA_SERVICE_CONFIG": json.dumps(dict(spec.config)),
    }
    labels = {"pauta.service": placement.service, "pauta.revision": str(placement.revision)}
    run = container_argv(launch, spec, name=name, port=port, env=env, labels=labels)
    # the CLI gets SIGTERM when the supervisor dies, and passes it to the container
    argv = [sys.executable, "-I", "-c", EXEC_SHIM, str(int(signal.SIGTERM)), str(os.getpid()), *run]
    log = _open_log(placement.log_path)
    try:
        header = (
            f"--- pauta: replica {placement.index} of {placement.service}@{placement.revision} "
            f"starting {started_at} in container {name} ({launch.image}) ---\n"
        )
        os.write(log, header.encode())
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(log)
    return ContainerReplica(popen, port, placement.log_path, launch.cli, name)
