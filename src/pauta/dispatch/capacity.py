"""What this worker has: detected (cores, RAM, NVIDIA GPUs) or declared on the command line.

The shell around the pure ready queue: it reads ``/proc``, ``/sys/fs/cgroup`` and runs
``nvidia-smi``. Container limits count: a worker in a cgroup with a 2-cpu quota on a 64-core
host has 2 cpus, and its memory is the smaller of the RAM and the cgroup's memory limit.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from pauta.core.resources import Resources, parse_memory

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
NVIDIA_SMI_TIMEOUT = 5.0

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_BUILT_IN = {"cpus": "--cpus", "memory": "--memory", "gpus": "--gpus"}


def detect_capacity() -> Resources:
    """The capacity of this machine (or of the container it runs in); no custom resources."""
    return Resources(cpus=detect_cpus(), memory=detect_memory(), gpus=detect_gpus())


def parse_capacity(
    cpus: str | float | None = None,
    memory: str | int | None = None,
    gpus: str | int | None = None,
    resources: Iterable[str] = (),
    *,
    detected: Resources | None = None,
) -> Resources:
    """The capacity from CLI flags (``--cpus 8 --memory 32GiB --gpus 2 --resource db_conn=4``).

    Declared values override detected ones; only the dimensions not declared are detected
    (from ``detected`` when given, so callers and tests can skip detection). A bad value raises
    ValueError naming the flag and the expected form.
    """
    cpu_count = _parse_cpus(cpus) if cpus is not None else None
    mem_bytes = _parse_memory(memory) if memory is not None else None
    gpu_count = _parse_gpus(gpus) if gpus is not None else None
    custom = _parse_resources(resources)
    if cpu_count is None:
        cpu_count = detected.cpus if detected is not None else detect_cpus()
    if mem_bytes is None:
        mem_bytes = detected.memory if detected is not None else detect_memory()
    if gpu_count is None:
        gpu_count = detected.gpus if detected is not None else detect_gpus()
    if detected is not None:
        custom = {**detected.custom, **custom}
    return Resources(cpus=cpu_count, memory=mem_bytes, gpus=gpu_count, custom=custom)


def detect_cpus(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """Cores this process may run on, capped by a cgroup cpu quota (rounded up); at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(n, 1)


def detect_memory(
    cgroup_root: Path = CGROUP_ROOT,
    proc_cgroup: Path = PROC_CGROUP,
    meminfo: Path = Path("/proc/meminfo"),
) -> int:
    """Total RAM in bytes, or the cgroup memory limit when that is smaller; 0 if unknown."""
    total = _meminfo_total(meminfo) or _sysconf_total()
    limit = cgroup_memory_limit(cgroup_root, proc_cgroup)
    if limit is not None and (not total or limit < total):
        return limit
    return total


def detect_gpus(timeout: float = NVIDIA_SMI_TIMEOUT) -> int:
    """NVIDIA GPUs that ``nvidia-smi`` lists; 0 when it is missing, fails or hangs.

    Run through the ``PATH`` lookup of the exec itself: one failed exec when it is missing costs
    less than loading ``shutil`` to look for it first."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        # missing, not executable, or a broken driver: none of it may stop CPU tasks
        return 0
    if done.returncode != 0:
        return 0
    return sum(1 for line in done.stdout.splitlines() if line.strip().isdigit())


def cgroup_cpu_quota(
    cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP
) -> float | None:
    """The tightest cpu quota (in cpus) on this process's cgroup and its parents, if any."""
    quotas: list[float] = []
    for folder in _cgroup_v2_folders(cgroup_root, proc_cgroup):
        fields = _read(folder / "cpu.max").split()
        if len(fields) == 2 and fields[0] != "max":
            quotas.append(_ratio(fields[0], fields[1]))
    for folder in _cgroup_v1_folders(cgroup_root / "cpu", proc_cgroup, "cpu"):
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota and period and not quota.startswith("-"):
            quotas.append(_ratio(quota, period))
    positive = [q for q in quotas if q > 0]
    return min(positive) if positive else None


def cgroup_memory_limit(
    cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP
) -> int | None:
    """The tightest cgroup memory limit in bytes on this process and its parents, if any."""
    limits: list[int] = []
    for folder in _cgroup_v2_folders(cgroup_root, proc_cgroup):
        value = _read(folder / "memory.max")
        if value.isdigit():
            limits.append(int(value))
    for folder in _cgroup_v1_folders(cgroup_root / "memory", proc_cgroup, "memory"):
        value = _read(folder / "memory.limit_in_bytes")
        # v1 writes "no limit" as a huge page-rounded number; it loses to the RAM total.
        if value.isdigit():
            limits.append(int(value))
    return min(limits) if limits else None


def _cgroup_v2_folders(root: Path, proc_cgroup: Path) -> list[Path]:
    for line in _read(proc_cgroup).splitlines():
        if line.startswith("0::"):
            return _with_parents(root, line[3:])
    return []


def _cgroup_v1_folders(root: Path, proc_cgroup: Path, controller: str) -> list[Path]:
    for line in _read(proc_cgroup).splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            return _with_parents(root, parts[2])
    return []


def _with_parents(root: Path, cgroup: str) -> list[Path]:
    """The cgroup's folder and each parent up to the root: a limit on any of them applies.

    Inside a container the path may name the host's hierarchy while the container sees its
    own cgroup at the root, so folders that do not exist are skipped by the readers.
    """
    parts = [p for p in cgroup.strip().split("/") if p]
    return [root.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _ratio(quota: str, period: str) -> float:
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _meminfo_total(meminfo: Path) -> int:
    for line in _read(meminfo).splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                return int(fields[1]) * 1024  # /proc/meminfo's "kB" are KiB
    return 0


def _sysconf_total() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def _parse_cpus(value: str | float) -> float:
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = math.nan
    if isinstance(value, bool) or not cpus > 0 or math.isinf(cpus):
        raise ValueError(f"--cpus {value!r}: expected a number of cpus > 0, such as 8 or 1.5")
    return cpus


def _parse_memory(value: str | int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        # A bare "32" would mean 32 bytes: almost surely a missing unit.
        raise ValueError(f"--memory {value!r}: give a unit, such as {value.strip()}GiB or 512MiB")
    try:
        memory = parse_memory(value)
    except ValueError as exc:
        raise ValueError(f"--memory {value!r}: {exc}") from None
    if memory <= 0:
        raise ValueError(f"--memory {value!r}: expected a size > 0, such as 32GiB")
    return memory


def _parse_gpus(value: str | int) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ValueError(f"--gpus {value!r}: expected a whole number of GPUs >= 0, such as 2")
    return int(text)


def _parse_resources(items: Iterable[str]) -> dict[str, float]:
    if isinstance(items, str):
        items = [items]  # one flag value passed on its own, not a list of characters
    custom: dict[str, float] = {}
    for item in items:
        name, sep, amount = item.partition("=")
        name = name.strip()
        expected = "expected NAME=AMOUNT, such as --resource db_conn=4"
        if not sep or not name or not amount.strip():
            raise ValueError(f"--resource {item!r}: {expected}")
        if name in _BUILT_IN:
            raise ValueError(f"--resource {item!r}: declare {name} with {_BUILT_IN[name]}")
        if not _NAME_RE.match(name):
            raise ValueError(
                f"--resource {item!r}: {name!r} is not a valid name (letters, digits, _ . -, "
                f"not starting with a digit); {expected}"
            )
        try:
            value = float(amount)
        except ValueError:
            value = math.nan
        if not value >= 0 or math.isinf(value):
            raise ValueError(f"--resource {item!r}: the amount must be a number >= 0; {expected}")
        if name in custom:
            raise ValueError(f"--resource {name} is given twice; give each resource once")
        custom[name] = value
    return custom


def default_workers(capacity: Resources) -> int:
    """Warm worker processes for ``capacity``: as many tasks of one cpu as fit, at least one
    per core."""
    return max(int(capacity.cpus), os.cpu_count() or 1)
