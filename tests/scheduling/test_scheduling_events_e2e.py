"""Event triggers with real processes: a file starts `ingest`, whose asset starts `train`,
whose success starts `report`; each exactly once, run by a worker, across a scheduler restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_scheduling_worker import env_for, runs, start_worker, stop

pytestmark = pytest.mark.slow

CHAIN = """
from pauta import Asset, flow, on_asset, on_file, on_flow, sensors, task

@task(outputs=[Asset("clean_rows")])
def clean(path: str) -> int:
    rows = open(path).read().split()
    with open({out!r}, "a") as handle:
        handle.write("ingest " + path + "\\n")
    return len(rows)

@flow(schedule=on_file({pattern!r}, settle=0.2))
def ingest(path: str) -> int:
    return clean(path).result()

@task
def fit() -> str:
    with open({out!r}, "a") as handle:
        handle.write("train\\n")
    return "model"

@flow(schedule=on_asset("clean_rows"))
def train() -> str:
    return fit().result()

@flow(schedule=on_flow("train"))
def report() -> str:
    # waits for the run it follows: the same logical date, already SUCCEEDED
    return sensors.flow_run("train", poke_interval=0.1, timeout=30).result()
"""


def start_scheduler(env: dict[str, str], flows: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pauta", "scheduler", "--flows", str(flows), "--rescan", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(env: dict[str, str], wanted: dict[str, int], timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs(env)
        done = [r for r in found if r["state"] == "SUCCEEDED"]
        if all(len([r for r in done if r["flow"] == f]) >= n for f, n in wanted.items()):
            return found
        time.sleep(0.3)
    pytest.fail(f"runs did not finish: {json.dumps(runs(env), indent=1)}")


def test_a_file_an_asset_and_a_flow_each_start_one_run(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    flows, incoming, out = tmp_path / "flows", tmp_path / "incoming", tmp_path / "out.txt"
    flows.mkdir()
    incoming.mkdir()
    (flows / "chain.py").write_text(CHAIN.format(out=str(out), pattern=str(incoming / "*.csv")))
    scheduler, worker = start_scheduler(env, flows), start_worker(env)
    try:
        (incoming / "day1.csv").write_text("a\nb\nc\n")
        found = wait_for(env, {"ingest": 1, "train": 1, "report": 1})
        by_flow = {r["flow"]: r for r in found}
        assert by_flow["ingest"]["trigger"] == "file"
        assert by_flow["ingest"]["params"] == {"path": str(incoming / "day1.csv")}
        assert by_flow["train"]["trigger"] == "asset"
        assert by_flow["report"]["trigger"] == "flow"
        assert by_flow["report"]["logical_date"] == by_flow["train"]["logical_date"]
        # a restarted scheduler neither repeats these nor misses the next file
        stop(scheduler)
        (incoming / "day2.csv").write_text("d\n")
        scheduler = start_scheduler(env, flows)
        found = wait_for(env, {"ingest": 2, "train": 2, "report": 2})
    finally:
        stop(scheduler)
        stop(worker)
    time.sleep(0.5)
    found = runs(env)
    assert sorted(r["flow"] for r in found) == sorted(["ingest", "train", "report"] * 2)
    assert all(r["state"] == "SUCCEEDED" for r in found)
    lines = out.read_text().splitlines()
    assert sorted(lines) == sorted(
        [f"ingest {incoming / 'day1.csv'}", f"ingest {incoming / 'day2.csv'}", "train", "train"]
    )
