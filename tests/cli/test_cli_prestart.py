"""`pauta run` starts its first worker before it parses the command line, only when the run
will use the local pool, and never leaves one behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pauta.cli import prestart
from pauta.cli.driving import first_local_worker
from pauta.core.settings import Settings
from pauta.executors.processes import Prestarted


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["run", "flows.py:daily"], True),
        (["run", "flows.py:daily", "--executor", "local"], True),
        (["run", "flows.py", "--executor=my_plugin"], True),  # the pool starts for plugins too
        (["run", "flows.py", "--executor", "ray"], False),
        (["run", "flows.py", "--executor=inline"], False),
        (["run", "--help"], False),
        (["run", "flows.py", "-h"], False),
        (["runs", "list"], False),
        (["server"], False),
        ([], False),
    ],
)
def test_only_a_run_on_the_local_pool_wants_a_worker_early(args: list[str], wanted: bool) -> None:
    assert prestart.wants_local_pool(args) is wanted


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_worker_started_for_a_run_that_turns_out_not_local_is_stopped(tmp_path: Path) -> None:
    prestart.start_for(["run", "flows.py:daily"])
    [early] = prestart._started
    assert first_local_worker(Settings.from_env(tmp_path), local=False) is None
    assert prestart.take() is None
    assert gone(early.worker.pid)


def test_the_run_adopts_the_worker_started_for_it_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_HOME", str(tmp_path / "home"))
    prestart.start_for(["run", "flows.py:daily"])
    [early] = prestart._started
    first = first_local_worker(Settings.from_env(), local=True)
    try:
        assert first is early
        assert first.results_url == Settings.from_env().results_url
        assert prestart.take() is None  # adopted once
    finally:
        first.discard()


def test_without_an_early_worker_the_run_starts_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_HOME", str(tmp_path / "home"))
    first = first_local_worker(Settings.from_env(), local=True)
    try:
        assert isinstance(first, Prestarted)
        assert not gone(first.worker.pid)
        assert os.path.isdir(tmp_path / "home")
    finally:
        first.discard()
