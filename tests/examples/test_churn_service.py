"""The churn model as a service: the app on its own, and the weekly training deploying it to a
running supervisor with ``serve=true``."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient
from test_weekly_training import EXAMPLES, run_example

sys.path.insert(0, str(EXAMPLES))

from churn_features import FEATURES, feature_matrix
from churn_service import create_app

ROW = {"visits": 1, "minutes": 3, "purchases": 0, "tickets": 4, "tenure_days": 20, "discount": 0.2}
LOYAL = {
    "visits": 12,
    "minutes": 90,
    "purchases": 4,
    "tickets": 0,
    "tenure_days": 1500,
    "discount": 0.0,
}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    raw = np.column_stack(
        [
            rng.poisson(6, 400),
            rng.gamma(2, 15, 400),
            rng.poisson(1, 400),
            rng.poisson(1, 400),
            rng.integers(1, 2000, 400),
            rng.uniform(0, 0.3, 400),
        ]
    )
    labels = (raw[:, 3] > raw[:, 2]).astype(int)
    model = LogisticRegression(max_iter=500).fit(feature_matrix(raw), labels)
    path = tmp_path / "churn-test.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


def test_the_app_predicts_posted_rows_and_refuses_bad_ones(model_file: Path) -> None:
    app = create_app({"model": str(model_file), "kind": "logreg", "accuracy": 0.9})
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health == {
            "status": "ok",
            "model": "churn-test.pkl",
            "kind": "logreg",
            "accuracy": 0.9,
            "run_id": None,
        }
        answer = client.post("/predict", json={"rows": [ROW, LOYAL]}).json()
        assert answer["model"] == "churn-test.pkl"
        first, second = answer["predictions"]
        assert first["churn"] is True
        assert second["churn"] is False
        assert 0.5 < first["probability"] <= 1
        one = client.post("/predict", json=ROW).json()  # a single row is fine too
        assert one["predictions"] == [first]
        for bad, reason in (
            ({"rows": []}, "post 1 to"),
            ({"rows": [{"visits": 1}]}, "lacks minutes"),
            ({"rows": [{**ROW, "visits": "many"}]}, "must be a number"),
            ({"rows": [{**ROW, "tickets": -1}]}, "not negative"),
            ([1, 2], "is not an object"),
        ):
            refused = client.post("/predict", json=bad)
            assert refused.status_code == 422
            assert reason in refused.json()["detail"]
        assert client.post("/predict", content=b"{not json").status_code == 422
    assert list(ROW) == FEATURES


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def _wait_for_the_supervisor(home: Path) -> None:
    from pauta.services.lease import supervisor_alive
    from pauta.store.repository import Store
    from pauta.store.services import ServicesStore

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (home / "pauta.db").exists():
            with Store(f"sqlite:///{home / 'pauta.db'}") as store:
                if supervisor_alive(ServicesStore(store).lease(), store.clock.now()):
                    return
        time.sleep(0.1)
    raise AssertionError("the supervisor did not start")


@pytest.mark.slow
def test_the_weekly_training_deploys_its_model_as_the_churn_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / ".pauta"
    port = _free_port()
    monkeypatch.setenv("PAUTA_CHURN_PORT", str(port))
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    log = (tmp_path / "supervisor.log").open("wb")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "pauta", "services", "run"], env=env, stdout=log, stderr=log
    )
    log.close()
    try:
        _wait_for_the_supervisor(home)
        run = run_example(home, "weekly_training.py", "end=2026-11-23", "serve=true")
        assert run["state"] == "SUCCEEDED"
        deployed = json.loads((home / "models" / "deployed.json").read_text())
        answer = _post(f"http://127.0.0.1:{port}/predict", {"rows": [ROW, LOYAL]})
        assert answer["model"] == Path(deployed["model"]).name
        assert [p["churn"] for p in answer["predictions"]] == [True, False]
        shown = subprocess.run(
            [sys.executable, "-m", "pauta", "services", "show", "churn", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        service = json.loads(shown.stdout)
        assert service["revision_id"] == "churn@1"
        assert service["revisions"][0]["config"]["model"] == deployed["model"]
        assert [r["state"] for r in service["replicas"]] == ["READY", "READY"]
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(60)
