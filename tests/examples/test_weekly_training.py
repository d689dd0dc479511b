"""The course's weekly training pipeline runs end to end and deploys the better model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weekly_training.py"


def test_weekly_training_deploys_the_better_model(tmp_path: Path) -> None:
    home = tmp_path / ".pauta"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pauta",
            "run",
            str(EXAMPLE),
            "-p",
            "end=2026-11-23",
            "--json",
            "--cpus",
            "2",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["state"] == "SUCCEEDED"
    tasks = {t["key"]: t for t in run["tasks"]}
    assert set(tasks) == {
        "load_week-0",
        "build_features-0",
        "train-0",
        "train-1",
        "evaluate-0",
        "evaluate-1",
        "deploy-0",
    }
    assert tasks["build_features-0"]["upstream"] == ["load_week-0"]
    accuracies = {
        key: next(m["value"] for m in tasks[key]["metrics"] if m["name"] == "accuracy")
        for key in ("evaluate-0", "evaluate-1")
    }
    assert all(0.5 < a <= 1.0 for a in accuracies.values())

    deployed = json.loads((home / "models" / "deployed.json").read_text())
    assert deployed["accuracy"] == max(accuracies.values())
    assert deployed["run_id"] == run["id"]
    assert Path(deployed["model"]).is_file()
    # the two trainings overlapped: they ran in parallel on the two workers
    a, b = tasks["train-0"], tasks["train-1"]
    assert a["started_at"] < b["ended_at"]
    assert b["started_at"] < a["ended_at"]
