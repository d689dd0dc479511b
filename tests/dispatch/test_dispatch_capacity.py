"""Capacity: detection (cores, RAM, cgroup limits, nvidia-smi) and the CLI flags."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pauta.core.resources import Resources
from pauta.dispatch import capacity
from pauta.dispatch.capacity import (
    cgroup_cpu_quota,
    cgroup_memory_limit,
    detect_capacity,
    detect_cpus,
    detect_gpus,
    detect_memory,
    parse_capacity,
)

GiB = 1024**3
DETECTED = Resources(cpus=4, memory="16GiB", gpus=1)


def test_detect_capacity_is_sane() -> None:
    found = detect_capacity()
    assert 1 <= found.cpus <= (os.cpu_count() or 1)
    assert found.cpus == int(found.cpus)
    assert found.memory > 64 * 1024**2  # any machine that runs tests has more than 64 MiB
    assert found.gpus >= 0
    assert dict(found.custom) == {}


# -- cgroups, on fake trees --------------------------------------------------------------------


def _tree(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    proc_file = tmp_path / "proc_cgroup"
    proc_file.write_text(proc)
    return root, proc_file


@pytest.mark.parametrize(
    ("proc", "files", "cpus", "memory"),
    [
        pytest.param("0::/\n", {}, None, None, id="no cgroup files"),
        pytest.param(
            "0::/\n", {"cpu.max": "max 100000", "memory.max": "max"}, None, None, id="v2 no limit"
        ),
        pytest.param(
            "0::/job\n",
            {"job/cpu.max": "150000 100000", "job/memory.max": str(2 * GiB)},
            1.5,
            2 * GiB,
            id="v2 limits on the process's cgroup",
        ),
        pytest.param(
            "0::/a/b\n",
            {"a/cpu.max": "200000 100000", "a/b/cpu.max": "max 100000", "memory.max": "1000"},
            2.0,
            1000,
            id="v2 limit on a parent",
        ),
        pytest.param(
            "4:memory:/x\n1:cpu,cpuacct:/\n",
            {
                "cpu/cpu.cfs_quota_us": "300000",
                "cpu/cpu.cfs_period_us": "100000",
                "memory/x/memory.limit_in_bytes": str(3 * GiB),
            },
            3.0,
            3 * GiB,
            id="v1",
        ),
        pytest.param(
            "1:cpu:/\n",
            {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"},
            None,
            None,
            id="v1 no quota",
        ),
    ],
)
def test_cgroup_limits(
    tmp_path: Path, proc: str, files: dict[str, str], cpus: float | None, memory: int | None
) -> None:
    root, proc_file = _tree(tmp_path, proc, files)
    assert cgroup_cpu_quota(root, proc_file) == cpus
    assert cgroup_memory_limit(root, proc_file) == memory


def test_cgroup_limits_cap_detection(tmp_path: Path) -> None:
    root, proc_file = _tree(
        tmp_path, "0::/\n", {"cpu.max": "50000 100000", "memory.max": str(512 * 1024**2)}
    )
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    assert detect_cpus(root, proc_file) == 1  # half a cpu of quota still runs one task
    assert detect_memory(root, proc_file, meminfo) == 512 * 1024**2
    assert detect_memory(tmp_path / "none", proc_file, meminfo) == 16384000 * 1024


# -- nvidia-smi ----------------------------------------------------------------------------------


def _fake_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, *, code: int = 0
) -> None:
    exe = tmp_path / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\n{body}\nexit {code}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.mark.parametrize(
    ("body", "code", "expected"),
    [
        pytest.param("printf '0\\n1\\n'", 0, 2, id="two GPUs"),
        pytest.param("printf '0\\n'", 0, 1, id="one GPU"),
        pytest.param("printf 'No devices were found\\n'", 0, 0, id="no devices"),
        pytest.param("echo 'NVIDIA-SMI has failed' >&2", 9, 0, id="driver failure"),
    ],
)
def test_detect_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, code: int, expected: int
) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch, body, code=code)
    assert detect_gpus() == expected


def test_detect_gpus_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpus() == 0


def test_detect_gpus_with_an_nvidia_smi_that_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nvidia-smi").write_text("not a program\n")  # not executable
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpus() == 0


def test_detect_gpus_gives_up_on_a_hung_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch, "exec sleep 30")
    assert detect_gpus(timeout=0.2) == 0


# -- parse_capacity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, DETECTED, id="nothing declared: detected"),
        pytest.param(
            {"cpus": "8", "memory": "32GiB", "gpus": "2"},
            Resources(cpus=8, memory="32GiB", gpus=2),
            id="declared overrides detected",
        ),
        pytest.param(
            {"cpus": 1.5}, Resources(cpus=1.5, memory="16GiB", gpus=1), id="fractional cpus"
        ),
        pytest.param(
            {"gpus": 0, "memory": 2 * GiB},
            Resources(cpus=4, memory="2GiB", gpus=0),
            id="numbers as well as strings",
        ),
        pytest.param(
            {"resources": ["db_conn=4", "license.seat=1.5", " tpu-v5 = 2 "]},
            Resources(
                cpus=4,
                memory="16GiB",
                gpus=1,
                custom={"db_conn": 4, "license.seat": 1.5, "tpu-v5": 2},
            ),
            id="custom resources",
        ),
        pytest.param(
            {"resources": "db_conn=2"},
            Resources(cpus=4, memory="16GiB", gpus=1, custom={"db_conn": 2}),
            id="one resource as a string",
        ),
    ],
)
def test_parse_capacity(kwargs: dict[str, object], expected: Resources) -> None:
    assert parse_capacity(**kwargs, detected=DETECTED) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        pytest.param({"cpus": "lots"}, ["--cpus 'lots'", "number of cpus > 0"], id="cpus text"),
        pytest.param({"cpus": "0"}, ["--cpus '0'", "> 0"], id="cpus zero"),
        pytest.param({"cpus": "inf"}, ["--cpus 'inf'"], id="cpus infinite"),
        pytest.param({"gpus": "1.5"}, ["--gpus '1.5'", "whole number"], id="gpus fraction"),
        pytest.param({"gpus": "-1"}, ["--gpus '-1'", "whole number"], id="gpus negative"),
        pytest.param({"memory": "32"}, ["--memory '32'", "give a unit", "32GiB"], id="no unit"),
        pytest.param({"memory": "32 parsecs"}, ["--memory '32 parsecs'", "GiB"], id="bad unit"),
        pytest.param({"memory": "0GiB"}, ["--memory '0GiB'", "> 0"], id="memory zero"),
        pytest.param({"resources": ["db_conn"]}, ["'db_conn'", "NAME=AMOUNT"], id="no equals"),
        pytest.param({"resources": ["=4"]}, ["'=4'", "NAME=AMOUNT"], id="no name"),
        pytest.param({"resources": ["db_conn="]}, ["NAME=AMOUNT"], id="no amount"),
        pytest.param({"resources": ["db_conn=x"]}, ["number >= 0", "NAME=AMOUNT"], id="text"),
        pytest.param({"resources": ["db_conn=-1"]}, ["number >= 0"], id="negative"),
        pytest.param({"resources": ["1db=1"]}, ["not a valid name"], id="bad name"),
        pytest.param({"resources": ["gpus=2"]}, ["declare gpus with --gpus"], id="built-in name"),
        pytest.param({"resources": ["a=1", "a=2"]}, ["given twice"], id="twice"),
    ],
)
def test_parse_capacity_errors(kwargs: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ValueError, match=r"^--(cpus|memory|gpus|resource) ") as info:
        parse_capacity(**kwargs, detected=DETECTED)  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(info.value)


def test_parse_capacity_detects_only_what_is_not_declared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: object, **kwargs: object) -> int:
        raise AssertionError("detected a value that was declared")

    monkeypatch.setattr(capacity, "detect_gpus", boom)
    monkeypatch.setattr(capacity, "detect_memory", boom)
    found = parse_capacity(memory="8GiB", gpus=0)
    assert found.memory == 8 * GiB
    assert found.gpus == 0
    assert found.cpus >= 1
