"""The course's weekly training pipeline runs end to end and deploys the better model; the
event-driven flows beside it score customers with that model and report on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(home: Path, target: str, *params: str) -> dict[str, Any]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    args = [a for p in params for a in ("-p", p)]
    args += ["--json", "--cpus", "2", "--workers", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "pauta", "run", str(EXAMPLES / target), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home.parent,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    home = tmp_path_factory.mktemp("example") / ".pauta"
    return home, run_example(home, "weekly_training.py", "end=2026-11-23")


def test_weekly_training_deploys_the_better_model(trained: tuple[Path, dict[str, Any]]) -> None:
    home, run = trained
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
    # labels name the calls after their model
    assert [tasks[k]["label"] for k in ("train-0", "train-1", "evaluate-0", "evaluate-1")] == [
        "train[logreg]",
        "train[forest]",
        "evaluate[logreg]",
        "evaluate[forest]",
    ]
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


def test_new_customers_are_scored_with_the_deployed_model(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    home, _ = trained
    customers = home.parent / "customers.csv"
    customers.write_text(
        "customer,visits,minutes,purchases,tickets,tenure_days,discount\n"
        "ana,1,3,0,4,20,0.25\n"
        "luis,12,90,4,0,1500,0.0\n"
    )
    run = run_example(home, "churn_scoring.py:score_customers", f"path={customers}")
    assert run["state"] == "SUCCEEDED"
    assert [t["key"] for t in run["tasks"]] == ["file_sensor-0", "score-0"]
    scored = (home / "scored" / "customers.csv").read_text().split()
    assert scored[0] == "customer,churn_probability"
    probability = {line.split(",")[0]: float(line.split(",")[1]) for line in scored[1:]}
    # the customer who barely uses the product churns; the loyal one stays
    assert probability["ana"] > 0.5 > probability["luis"]


def test_the_model_report_lists_each_deployment(trained: tuple[Path, dict[str, Any]]) -> None:
    home, training = trained
    run = run_example(home, "churn_scoring.py:model_report")
    assert run["state"] == "SUCCEEDED"
    report = (home / "models" / "report.md").read_text()
    assert training["id"] in report


def pauta(home: Path, *args: str) -> str:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_forest_can_train_in_its_own_pinned_virtualenv(tmp_path: Path) -> None:
    home = tmp_path / ".pauta"
    runs = [
        run_example(home, "weekly_training.py", "end=2026-11-23", "forest_in=venv")
        for _ in range(2)
    ]
    for run in runs:
        assert run["state"] == "SUCCEEDED"
        assert {t["key"] for t in run["tasks"]} >= {"train-0", "train_pinned-0", "deploy-0"}

    (env,) = json.loads(pauta(home, "envs", "list", "--json"))  # one env, built once
    assert env["complete"]
    assert any(r.startswith("scikit-learn==") for r in env["requirements"])
    venv_log = pauta(home, "logs", runs[1]["id"], "train_pinned-0")
    process_log = pauta(home, "logs", runs[1]["id"], "train-0")
    assert "trained forest" in venv_log
    assert f"environment {env['path']}" in venv_log
    assert "trained logreg" in process_log
    assert env["path"] not in process_log
