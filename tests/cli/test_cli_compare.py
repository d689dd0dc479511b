"""`pauta runs compare A B`: two runs of one flow side by side, in a table and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

COMPARE_FLOWS = Path(__file__).with_name("compare_flows.py")


def pauta(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "COLUMNS": "160"}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args], capture_output=True, text=True, env=env, timeout=120
    )


def run(home: Path, target: str, *params: str) -> str:
    args = [a for p in params for a in ("-p", p)]
    done = pauta(home, "run", f"{COMPARE_FLOWS}:{target}", *args, "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    home = tmp_path_factory.mktemp("compare") / "home"
    a = run(home, "models", "depth=3")
    b = run(home, "models", "depth=5", "n=4")
    other = run(home, "other")
    return home, a, b, other


def test_the_json_sets_params_metrics_and_tasks_side_by_side(
    runs: tuple[Path, str, str, str],
) -> None:
    home, a, b, _ = runs
    shown = pauta(home, "runs", "compare", a, b, "--json")
    assert shown.returncode == 0, shown.stderr
    found: dict[str, Any] = json.loads(shown.stdout)
    assert (found["flow"], found["a"]["id"], found["b"]["id"]) == ("models", a, b)
    params = {p["name"]: p for p in found["params"]}
    assert params["depth"] == {"name": "depth", "a": 3, "b": 5, "delta": 2, "differs": True}
    assert (params["n"]["a"], params["n"]["b"]) == (3, 4)
    metrics = {(m["task"], m["metric"]): m for m in found["metrics"]}
    assert list(metrics) == [
        ("fit[logreg]", "accuracy"),
        ("fit[forest]", "accuracy"),
        ("fit[logreg]", "loss"),  # a curve: its last step's value
        ("fit[forest]", "loss"),
    ]
    assert metrics[("fit[logreg]", "loss")]["a"] == pytest.approx(0.2 / 3)
    assert metrics[("fit[logreg]", "accuracy")]["differs"] is False
    forest = metrics[("fit[forest]", "accuracy")]
    assert (forest["a"], forest["b"]) == pytest.approx((0.83, 0.85))
    assert forest["differs"] is True
    assert forest["delta"] == pytest.approx(0.02)
    tasks = {t["task"]: t for t in found["tasks"]}
    assert list(tasks) == ["fit[logreg]", "fit[forest]", "square-0"]
    square = tasks["square-0"]
    assert square["mapped"] is True
    assert (square["a"]["calls"], square["b"]["calls"], square["differs"]) == (3, 4, True)
    assert tasks["fit[logreg]"]["differs"] is False
    assert tasks["fit[logreg]"]["a"]["state"] == "SUCCEEDED"
    assert found["duration"]["a"] > 0
    # by id prefix, as everywhere else
    again = json.loads(pauta(home, "runs", "compare", a[:8], b[:8], "--json").stdout)
    assert again["a"]["id"] == a


def test_the_table_marks_what_differs(runs: tuple[Path, str, str, str]) -> None:
    home, a, b, _ = runs
    shown = pauta(home, "runs", "compare", a, b)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.startswith("*") and "depth" in line and "3" in line for line in lines)
    forest = next(line for line in lines if "fit[forest]" in line and "accuracy" in line)
    assert forest.startswith("*")
    assert "+0.02" in forest
    logreg = next(line for line in lines if "fit[logreg]" in line and "accuracy" in line)
    assert not logreg.startswith("*")
    assert any("square-0 [map]" in line and "\u00d74" in line for line in lines)


def test_runs_of_different_flows_or_unknown_runs_are_clear_errors(
    runs: tuple[Path, str, str, str],
) -> None:
    home, a, _, other = runs
    mixed = pauta(home, "runs", "compare", a, other)
    assert mixed.returncode == 2
    assert f"run {a} is a run of flow 'models' and run {other} of flow 'other'" in mixed.stderr
    assert "only runs of one flow can be compared" in mixed.stderr
    missing = pauta(home, "runs", "compare", a, "nosuchrun")
    assert missing.returncode == 2
    assert "no run with id or id prefix 'nosuchrun'" in missing.stderr
    assert "pauta runs list" in missing.stderr
    same = pauta(home, "runs", "compare", a, a, "--json")
    assert same.returncode == 2
    assert "give two runs" in same.stderr
    assert same.stdout == ""
