"""Runs mirrored to a real ``mlflow server``: the run, a nested run per task call with its
params, metrics (with steps) and artifacts, the registered model and its alias; MLflow
stopped in the middle of a run; the link on the run page; no MLflow without the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from mlflow_server import MlflowServer

from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.store.repository import Store

# MLflow starts in 15-40 s here, twice in this file, on a machine other work shares
pytestmark = pytest.mark.timeout(300)

FLOWS = Path(__file__).parent / "mlflow_flows.py"
SRC = Path(__file__).parents[2] / "src"


def pauta(home: Path, uri: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PAUTA_HOME": str(home),
        "PAUTA_MLFLOW_TRACKING_URI": uri,
        "PAUTA_MLFLOW_RETRY_SECONDS": "0.2",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    environ.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=180,
        cwd=home.parent,
    )


def runs_by_name(client: MlflowClient, flow: str, run_id: str) -> dict[str, Any]:
    experiment = client.get_experiment_by_name(flow)
    assert experiment is not None
    found = client.search_runs(
        [experiment.experiment_id], f"tags.`pauta.run_id` = '{run_id}'", max_results=100
    )
    return {run.info.run_name: run for run in found}


@pytest.fixture
def mirrored_home(
    tmp_path: Path, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path / "home"
    _mirror_env(monkeypatch, home, mlflow_server)
    return home


def _mirror_env(monkeypatch: pytest.MonkeyPatch, home: Path, server: MlflowServer) -> None:
    monkeypatch.setenv("PAUTA_HOME", str(home))
    monkeypatch.delenv("PAUTA_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAUTA_MLFLOW_TRACKING_URI", server.uri)
    monkeypatch.setenv("PAUTA_MLFLOW_RETRY_SECONDS", "0.2")


@pytest.fixture(scope="module")
def weekly(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """One run of ``weekly`` (its home and its ``runs show --json``), shared by the tests
    that only read it."""
    folder = tmp_path_factory.mktemp("weekly")
    home = folder / "home"
    ran = pauta(
        home, mlflow_server.uri, "run", f"{FLOWS}:weekly", "-p", f"folder={folder}", "-p",
        "week=48", "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["id"]
    shown = pauta(home, mlflow_server.uri, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return home, json.loads(shown.stdout)


@pytest.fixture
def weekly_run(
    weekly: tuple[Path, dict[str, Any]],
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    home, view = weekly
    _mirror_env(monkeypatch, home, mlflow_server)
    return view


def test_a_run_its_task_calls_and_the_registered_model_are_in_mlflow(
    weekly_run: dict[str, Any], mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    folder = weekly_run["params"]["folder"]
    client = MlflowClient(mlflow_server.uri)
    run_id = weekly_run["id"]
    runs = runs_by_name(client, "weekly", run_id)
    assert set(runs) == {f"weekly-{run_id}", "train[logreg]", "train[forest]"}
    parent = runs[f"weekly-{run_id}"]
    assert parent.info.status == "FINISHED"
    assert parent.data.params == {"folder": folder, "week": "48"}
    tags = parent.data.tags
    assert (tags["pauta.run_id"], tags["pauta.flow"], tags["pauta.trigger"]) == (
        run_id,
        "weekly",
        "manual",
    )
    assert tags["pauta.logical_date"] == weekly_run["logical_date"]
    for kind, accuracy in (("logreg", 0.84), ("forest", 0.91)):
        nested = runs[f"train[{kind}]"]
        assert nested.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert nested.info.status == "FINISHED"
        assert nested.data.params["kind"] == kind
        assert nested.data.metrics["accuracy"] == accuracy
        history = client.get_metric_history(nested.info.run_id, "loss")
        assert sorted((m.step, m.value) for m in history) == [
            (step, 1.0 / (step + 1) + (kind == "forest")) for step in range(3)
        ]
        files = {a.path for a in client.list_artifacts(nested.info.run_id)}
        assert "report.txt" in files
        local = client.download_artifacts(nested.info.run_id, "report.txt", str(tmp_path / kind))
        assert Path(local).read_text() == f"{kind} scored {accuracy}\n"
    forest = runs["train[forest]"]
    champion = client.get_model_version_by_alias("churn", "champion")
    assert champion.run_id == forest.info.run_id
    assert forest.data.params["version"] == champion.version
    assert champion.source.endswith("/model.bin")
    # the run's JSON links to the MLflow run
    assert weekly_run["mlflow_url"] == (
        f"{mlflow_server.uri}/#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}"
    )


def test_items_sent_again_add_no_run_and_no_metric(
    weekly_run: dict[str, Any], mlflow_server: MlflowServer
) -> None:
    import sqlalchemy as sa

    from pauta.store.outbox import OUTBOX_INSERT, batch_rows, run_row
    from pauta.store.records import WriteBatch
    from pauta.store.tables import mlflow_runs
    from pauta.tracking.sender import OutboxSender

    client = MlflowClient(mlflow_server.uri)
    run_id = weekly_run["id"]
    before = runs_by_name(client, "weekly", run_id)
    settings = Settings.from_env()
    store = Store.from_settings(settings)
    try:
        # every metric and the run again, and one call's MLflow run forgotten (as when a
        # process died between creating it and remembering it)
        now = store.clock.now()
        rows = [run_row(store.get_flow_run(run_id), now)]
        rows += batch_rows(WriteBatch(metrics=store.list_metrics(run_id)), now)
        with store.engine.begin() as conn:
            OUTBOX_INSERT.execute(conn, rows)
            conn.execute(sa.delete(mlflow_runs).where(mlflow_runs.c.key == "train-1"))
        assert store.outbox_size() == len(rows)
        assert OutboxSender(store, settings).send_waiting()
        assert store.outbox_size() == 0
        assert "train-1" in store.mlflow_runs(run_id)
    finally:
        store.close()
    after = runs_by_name(client, "weekly", run_id)
    assert {name: r.info.run_id for name, r in after.items()} == {
        name: r.info.run_id for name, r in before.items()
    }
    history = client.get_metric_history(after["train[forest]"].info.run_id, "loss")
    assert len(history) == 3


def test_mlflow_down_mid_run_the_run_succeeds_and_the_data_arrives_later(
    mirrored_home: Path, mlflow_server: MlflowServer
) -> None:
    assert mlflow_server.proc is not None
    ran = pauta(
        mirrored_home,
        mlflow_server.uri,
        "run",
        f"{FLOWS}:outage",
        "--json",
        MLFLOW_TEST_PGID=str(mlflow_server.proc.pid),
    )
    mlflow_server.proc.wait(30)
    mlflow_server.proc = None
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["state"] == "SUCCEEDED"
    log = (mirrored_home / "logs" / run["id"] / "flow.log").read_text()
    warnings = [line for line in log.splitlines() if "cannot be reached" in line]
    assert len(warnings) == 1, log  # one line, not one per metric
    settings = Settings.from_env()
    store = Store.from_settings(settings)
    try:
        waiting = store.outbox_size()
        assert waiting >= 12, "the metrics logged while MLflow was down wait in the outbox"
    finally:
        store.close()
    # a later process (a worker, the server) sends them once MLflow is back
    runner = Runner(settings)
    try:
        store = runner.engine().store
        mlflow_server.start()
        deadline = time.monotonic() + 60
        while store.outbox_size() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.outbox_size() == 0
    finally:
        runner.close()
    client = MlflowClient(mlflow_server.uri)
    runs = runs_by_name(client, "outage", run["id"])
    assert runs[f"outage-{run['id']}"].info.status == "FINISHED"
    late = runs["after-0"]
    assert late.info.status == "FINISHED"
    assert late.data.params == {"late": "yes"}
    history = client.get_metric_history(late.info.run_id, "after")
    assert sorted((m.step, m.value) for m in history) == [(i, 2.0 * i) for i in range(12)]
    log = (mirrored_home / "logs" / run["id"] / "flow.log").read_text()
    assert "MLflow is reachable again" in log


def test_without_the_setting_a_run_loads_no_mlflow_and_register_model_says_what_to_set(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    code = (
        "import json, sys\n"
        "from pauta import context\n"
        "import mlflow_flows\n"
        "run = mlflow_flows.weekly.run(folder=sys.argv[1])\n"
        "print(json.dumps({'state': run.state, 'mlflow': 'mlflow' in sys.modules}))\n"
    )
    env = {**os.environ, "PAUTA_HOME": str(home)}
    for name in ("PAUTA_MLFLOW_TRACKING_URI", "PAUTA_DATABASE_URL"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(FLOWS.parent)])
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # the forest's register_model failed the run, with the setting named
    assert result == {"state": "FAILED", "mlflow": False}
    logs = "".join(p.read_text() for p in (home / "logs").rglob("*.log"))
    assert "set PAUTA_MLFLOW_TRACKING_URI" in logs


def test_a_deploy_records_the_model_version_an_alias_points_at(
    weekly_run: dict[str, Any], mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pauta.core.errors import PautaError
    from pauta.services.spec import ServiceSpec
    from pauta.tracking.registry import served_models

    champion = MlflowClient(mlflow_server.uri).get_model_version_by_alias("churn", "champion")
    config = {"model": "models:/churn@champion", "options": {"pinned": "models:/churn/1"}}
    models = served_models(config)
    assert [(m["uri"], m["name"], m["version"]) for m in models] == [
        ("models:/churn@champion", "churn", int(champion.version)),
        ("models:/churn/1", "churn", 1),
    ]
    # kept with the revision's spec
    spec = ServiceSpec(app="svc:create_app", config=config, models=models)
    assert ServiceSpec.from_json(spec.to_json()).models == models
    assert served_models({"model": "/srv/model.bin"}) == ()
    with pytest.raises(PautaError, match="cannot resolve models:/nope@champion"):
        served_models({"model": "models:/nope@champion"})
    monkeypatch.delenv("PAUTA_MLFLOW_TRACKING_URI")
    with pytest.raises(PautaError, match="set PAUTA_MLFLOW_TRACKING_URI"):
        served_models(config)


@pytest.mark.parametrize(
    ("tracking_uri", "shown"),
    [
        ('{uri}/?x="><script>alert(1)</script>', True),
        ("javascript:alert(1)//", False),
        ("sqlite:///mlflow.db", False),
    ],
)
def test_the_run_page_links_to_the_mlflow_run_escaped_and_only_over_http(
    weekly_run: dict[str, Any],
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tracking_uri: str,
    shown: bool,
) -> None:
    import html
    import re

    from fastapi.testclient import TestClient

    from pauta.app.users import create_user
    from pauta.ui.site import create_app

    uri = tracking_uri.format(uri=mlflow_server.uri)
    monkeypatch.setenv("PAUTA_MLFLOW_TRACKING_URI", uri)
    settings = Settings.from_env()
    store = Store.from_settings(settings)
    (tmp_path / "flows").mkdir()
    try:
        create_user(store, f"viewer{len(tracking_uri)}", "a-long-password", "viewer")
        app = create_app(settings, store=store, flows_dir=tmp_path / "flows")
        with TestClient(app) as client:
            form = client.get("/login").text
            token = re.search(r'name="login_token" value="([^"]+)"', form)
            assert token
            data = {
                "username": f"viewer{len(tracking_uri)}",
                "password": "a-long-password",
                "login_token": token.group(1),
            }
            assert client.post("/login", data=data).status_code == 200
            page = client.get(f"/runs/{weekly_run['id']}").text
    finally:
        store.close()
    links = re.findall(r'<a class="mlflow-link" href="([^"]*)"', page)
    assert "<script>alert(1)</script>" not in page
    if not shown:
        assert links == []
        return
    [link] = links
    mirrored = weekly_run["mlflow_url"].removeprefix(mlflow_server.uri)
    assert html.unescape(link) == uri.rstrip("/") + mirrored
