"""Talking to the container CLI (podman or docker): which one, names, limits, clean-up.

Everything here runs the CLI or builds its arguments; the ``container`` executor
(``pauta.executors.container``) decides when.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shlex
import subprocess
from collections.abc import Sequence

from pauta.core.host import hostname

# Runtimes refuse to raise the process limit past what the kernel grants a container (on some
# hosts far below the host's own hard limit); this many processes is plenty for one task.
_NPROC_MAX = 32768


def container_cli() -> list[str]:
    """The container CLI's command line, from ``PAUTA_CONTAINER_CLI`` (``podman`` by default)."""
    return shlex.split(os.environ.get("PAUTA_CONTAINER_CLI") or "podman") or ["podman"]


def container_name(run_id: str, key: str, attempt: int) -> str:
    """``pauta-<run>-<key>-<attempt>`` with what a container name may not hold replaced."""
    raw = f"pauta-{run_id}-{key}-{attempt}"
    name = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in raw)
    if len(name) > 200:  # names are capped; the labels keep the whole key
        name = f"{name[:180]}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"
    return name


def human_memory(n_bytes: int) -> str:
    """``64 MiB``, ``1 GiB``, ``1.5 GiB``: a limit as a person would have written it."""
    size, unit = float(n_bytes), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f}".removesuffix(".0") + f" {unit}"


def gpu_options(cli: str, gpu_ids: Sequence[int]) -> list[str]:
    """The assigned GPUs as devices: CDI names for podman, ``--gpus`` for docker. Inside, the
    container sees only those, numbered from 0."""
    if not gpu_ids:
        return []
    if os.path.basename(cli) == "docker":
        return ["--gpus", f'"device={",".join(str(i) for i in gpu_ids)}"']
    return [option for i in gpu_ids for option in ("--device", f"nvidia.com/gpu={i}")]


def ulimits() -> list[str]:
    """This process's own open-file and process limits: a runtime's defaults may exceed what
    the host allows (and then no container starts)."""
    options = []
    for name, which, cap in (
        ("nofile", resource.RLIMIT_NOFILE, None),
        ("nproc", resource.RLIMIT_NPROC, _NPROC_MAX),
    ):
        soft, hard = resource.getrlimit(which)
        if hard == resource.RLIM_INFINITY:
            hard = cap or 1048576
        if soft == resource.RLIM_INFINITY or soft > hard:
            soft = hard
        if cap is not None:
            soft, hard = min(soft, cap), min(hard, cap)
        options += ["--ulimit", f"{name}={soft}:{hard}"]
    return options


def remove_orphans(cli: Sequence[str]) -> list[str]:
    """Remove the containers whose ``pauta.worker`` is a process of this host that is gone;
    the names removed."""
    ids = quietly([*cli, "ps", "--all", "--quiet", "--filter", "label=pauta.worker"]).split()
    if not ids:
        return []
    found = quietly(
        [*cli, "inspect", "--format", '{{.Name}} {{index .Config.Labels "pauta.worker"}}', *ids]
    )
    host = hostname()
    dead = []
    for line in found.splitlines():
        name, _, worker = line.strip().rpartition(" ")
        owner, _, pid = worker.rpartition(":")
        if owner == host and pid.isdigit() and not _alive(int(pid)):
            dead.append(name.lstrip("/"))
    if dead:
        quietly([*rm_command(cli), *dead])
    return dead


def rm_command(cli: Sequence[str]) -> list[str]:
    """Remove containers, killing running ones at once: podman would first wait 10 s for a
    SIGTERM that a task's Python (pid 1 in its container) ignores; docker kills straight away.
    With podman, a name already gone does not stop the others from being removed."""
    if os.path.basename(cli[0]) == "podman":
        return [*cli, "rm", "--force", "--ignore", "--time", "0"]
    return [*cli, "rm", "--force"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def quietly(command: list[str]) -> str:
    """Run a CLI command for its output; failures give empty output (the caller decides)."""
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""
