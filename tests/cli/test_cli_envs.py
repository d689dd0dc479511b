"""`pauta envs list|prune`: the virtualenvs of venv tasks, as a user sees and removes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pauta.definitions.environments import VenvSpec
from pauta.executors.envs import Environments

pytestmark = pytest.mark.slow


VENV_FLOWS = Path(__file__).parents[1] / "executors" / "flowmods" / "venv_flows.py"
PROBE = str(VENV_FLOWS.parent / "wheels" / "pauta_venv_probe-1.0-py3-none-any.whl")


def pauta(home: Path, envs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_ENVS_DIR": str(envs)}
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_list_and_prune_show_and_remove_environments(tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "envs"
    empty = pauta(home, root, "envs", "list")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == f"no environments in {root}"
    envs = Environments(root)
    held = envs.acquire(VenvSpec())  # in use by this process while the commands run
    incomplete = root / ("f" * 16)
    incomplete.mkdir()

    listed = pauta(home, root, "envs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    by_key = {entry["key"]: entry for entry in json.loads(listed.stdout)}
    assert by_key[held.key]["complete"] is True
    assert by_key[held.key]["in_use"] is True
    assert by_key[held.key]["requirements"] == []
    assert by_key[held.key]["python_version"].startswith(f"{sys.version_info[0]}.")
    assert by_key["f" * 16]["complete"] is False
    table = pauta(home, root, "envs", "list").stdout.splitlines()
    assert table[0].split("\t")[:2] == ["KEY", "STATE"]
    assert {tuple(row.split("\t")[:2]) for row in table[1:]} == {
        (held.key, "in use"),
        ("f" * 16, "incomplete"),
    }

    # the incomplete one goes; the one in use stays even with --all
    pruned = pauta(home, root, "envs", "prune", "--all", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert [entry["key"] for entry in json.loads(pruned.stdout)] == ["f" * 16]
    assert held.path.exists()
    held.release()
    # used moments ago: kept by the default age, removed by --older-than 0
    assert pauta(home, root, "envs", "prune").stdout.strip() == "nothing to prune"
    done = pauta(home, root, "envs", "prune", "--older-than", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"removed {held.key}\t-"
    assert done.stdout.splitlines()[-1].startswith("1 environment, ")
    assert not held.path.exists()
    assert pauta(home, root, "envs", "prune", "--older-than", "-1").returncode == 2


def test_pauta_run_builds_the_environment_of_a_venv_task_and_envs_list_shows_it(
    tmp_path: Path,
) -> None:
    home, root = tmp_path / "home", tmp_path / "envs"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"labels": ["from the cli"]}))
    done = pauta(
        home, root, "run", f"{VENV_FLOWS}:probe_then_process", "--params-file", str(params)
    )
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stderr
    [env] = json.loads(pauta(home, root, "envs", "list", "--json").stdout)
    assert env["requirements"] == [PROBE]
    assert env["complete"] is True
    assert env["in_use"] is False  # the run's workers are gone with its process
