"""`pauta runs mark-success` and `pauta runs clear` as a user runs them: a real run fails, is
steered, and `runs resume` drives the replay to the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STEER_FLOWS = Path(__file__).resolve().parents[1] / "engine" / "steer_flows.py"


def pauta(home: Path, marks: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "STEER_DIR": str(marks), "COLUMNS": "200"}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _show(home: Path, marks: Path, run_id: str) -> dict:
    shown = pauta(home, marks, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_mark_success_then_clear_from_the_cli(tmp_path: Path) -> None:
    home, marks = tmp_path / "home", tmp_path / "marks"
    marks.mkdir()
    failed = pauta(home, marks, "run", f"{STEER_FLOWS}:steer", "--json", "-q")
    assert failed.returncode == 1
    run_id = json.loads(failed.stdout)["id"]

    bad = pauta(home, marks, "runs", "mark-success", run_id, "second-0", "--result", "{nope")
    assert bad.returncode == 2
    assert "--result is not JSON" in bad.stderr
    done = pauta(home, marks, "runs", "mark-success", run_id, "first-0")
    assert done.returncode == 2
    assert "already SUCCEEDED" in done.stderr

    marked = pauta(
        home, marks, "runs", "mark-success", run_id, "second-0", "--result", "[1, 2]", "--json"
    )
    assert marked.returncode == 0, marked.stderr
    assert json.loads(marked.stdout)["state"] == "QUEUED"
    resumed = pauta(home, marks, "runs", "resume", run_id, "-q")
    assert resumed.returncode == 0, resumed.stderr
    view = _show(home, marks, run_id)
    assert view["state"] == "SUCCEEDED"
    tasks = {t["key"]: t for t in view["tasks"]}
    assert tasks["second-0"]["marked_by"]
    assert (marks / "third").read_text().splitlines() == ["[1, 2]"]

    (marks / "fixed").touch()
    cleared = pauta(home, marks, "runs", "clear", run_id, "second-0")
    assert cleared.returncode == 0, cleared.stderr
    assert "second-0 and its downstream calls cleared" in cleared.stdout
    assert "QUEUED" in cleared.stdout
    assert pauta(home, marks, "runs", "resume", run_id, "-q").returncode == 0
    tasks = {t["key"]: t for t in _show(home, marks, run_id)["tasks"]}
    assert {k: (t["state"], t["attempts"]) for k, t in tasks.items()} == {
        "first-0": ("SUCCEEDED", 1),
        "second-0": ("SUCCEEDED", 2),
        "third-0": ("SUCCEEDED", 2),
    }
    assert tasks["second-0"]["marked_by"] is None
    assert (marks / "third").read_text().splitlines() == ["[1, 2]", "2"]

    unknown = pauta(home, marks, "runs", "clear", run_id, "nope-0")
    assert unknown.returncode == 2
    assert "no task call 'nope-0'" in unknown.stderr
