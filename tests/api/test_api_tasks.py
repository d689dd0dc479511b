"""Task calls through the API: listing, attempts, retrying a failed task, and logs (ranges,
tails, and paths that must never leave the logs folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import add_run, add_task
from fastapi.testclient import TestClient

from pauta.core.settings import Settings
from pauta.core.states import FlowRunState, State
from pauta.store.repository import Store


def test_tasks_list_and_show_with_attempts(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.FAILED)
    add_task(store, run, "load-0", State.SUCCEEDED)
    add_task(store, run, "train-0", State.FAILED, upstream=["load-0"])
    listed = client.get(f"/api/v1/runs/{run.id}/tasks", headers=as_admin).json()
    assert [t["key"] for t in listed] == ["load-0", "train-0"]
    shown = client.get(f"/api/v1/runs/{run.id}/tasks/train-0", headers=as_admin)
    assert shown.status_code == 200
    task = shown.json()
    assert task["state"] == "FAILED"
    assert task["error"]["type"] == "RuntimeError"
    assert [a["attempt"] for a in task["attempt_history"]] == [1]
    missing = client.get(f"/api/v1/runs/{run.id}/tasks/nope-0", headers=as_admin)
    assert missing.status_code == 404


def test_retry_a_failed_task_queues_its_run(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.FAILED)
    add_task(store, run, "load-0", State.SUCCEEDED)
    add_task(store, run, "train-0", State.FAILED)
    reply = client.post(f"/api/v1/runs/{run.id}/tasks/train-0/retry", headers=as_admin)
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "QUEUED"
    assert store.get_flow_run(run.id).state == FlowRunState.QUEUED


def test_retry_refuses_a_task_that_did_not_fail_or_an_active_run(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.FAILED)
    add_task(store, run, "load-0", State.SUCCEEDED)
    add_task(store, run, "train-0", State.FAILED)
    reply = client.post(f"/api/v1/runs/{run.id}/tasks/load-0/retry", headers=as_admin)
    assert reply.status_code == 409
    assert "SUCCEEDED" in reply.json()["detail"]
    running = add_run(store, state=FlowRunState.RUNNING)
    add_task(store, running, "train-0", State.FAILED)
    reply = client.post(f"/api/v1/runs/{running.id}/tasks/train-0/retry", headers=as_admin)
    assert reply.status_code == 409
    missing = client.post(f"/api/v1/runs/{run.id}/tasks/nope-0/retry", headers=as_admin)
    assert missing.status_code == 404


@pytest.fixture
def logged_run(store: Store, settings: Settings) -> tuple[str, Path]:
    run = add_run(store, state=FlowRunState.SUCCEEDED)
    folder = settings.logs_dir / run.id
    folder.mkdir(parents=True)
    path = folder / "shout-0.1.log"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    add_task(store, run, "shout-0", State.SUCCEEDED, log_path=str(path))
    return run.id, path


def test_logs_by_range_and_tail(
    client: TestClient, as_admin: dict[str, str], logged_run: tuple[str, Path]
) -> None:
    run_id, path = logged_run
    size = path.stat().st_size
    whole = client.get(f"/api/v1/runs/{run_id}/logs", headers=as_admin).json()
    assert whole["run_id"] == run_id
    [piece] = whole["logs"]
    assert piece["text"] == path.read_text()
    assert (piece["key"], piece["attempt"], piece["size"], piece["more"]) == (
        "shout-0",
        1,
        size,
        False,
    )
    url = f"/api/v1/runs/{run_id}/tasks/shout-0/logs"
    first = client.get(url, params={"limit": 14}, headers=as_admin).json()["logs"][0]
    assert first["text"] == "line 0\nline 1\n"
    assert first["more"] is True
    following = client.get(
        url, params={"offset": first["next_offset"], "limit": 7}, headers=as_admin
    ).json()["logs"][0]
    assert following["text"] == "line 2\n"
    tail = client.get(url, params={"tail": 2}, headers=as_admin).json()["logs"][0]
    assert tail["text"] == "line 98\nline 99\n"
    assert tail["next_offset"] == size
    text = client.get(url, params={"tail": 1, "format": "text"}, headers=as_admin)
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "line 99\n"
    past = client.get(url, params={"offset": size + 100}, headers=as_admin).json()["logs"][0]
    assert past["text"] == ""
    assert client.get(url, params={"attempt": 2}, headers=as_admin).json()["logs"] == []
    unknown = client.get(f"/api/v1/runs/{run_id}/tasks/nope-0/logs", headers=as_admin)
    assert unknown.status_code == 404


@pytest.mark.parametrize("where", ["outside", "dotdot", "symlink"])
def test_a_log_path_never_leaves_the_logs_folder(
    client: TestClient,
    as_admin: dict[str, str],
    store: Store,
    settings: Settings,
    tmp_path: Path,
    where: str,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    run = add_run(store, state=FlowRunState.FAILED)
    if where == "outside":
        path = str(secret)
    elif where == "dotdot":
        path = str(settings.logs_dir / run.id / ".." / ".." / ".." / "secret.txt")
    else:
        link = settings.logs_dir / run.id / "leak.1.log"
        link.parent.mkdir(parents=True)
        link.symlink_to(secret)
        path = str(link)
    add_task(store, run, "leak-0", State.FAILED, log_path=path)
    for url in (f"/api/v1/runs/{run.id}/logs", f"/api/v1/runs/{run.id}/tasks/leak-0/logs"):
        reply = client.get(url, params={"format": "text"}, headers=as_admin)
        assert reply.status_code == 200
        assert "SECRET" not in reply.text


def test_a_task_key_in_the_url_is_not_a_path(
    client: TestClient, as_admin: dict[str, str], logged_run: tuple[str, Path]
) -> None:
    run_id, _ = logged_run
    for key in ("..%2F..%2Fsecret", "%2Fetc%2Fpasswd", "shout-0%2F..%2F..%2F.."):
        reply = client.get(f"/api/v1/runs/{run_id}/tasks/{key}/logs", headers=as_admin)
        assert reply.status_code == 404, key


def write_flow_log(settings: Settings, run_id: str, lines: list[str]) -> Path:
    """Print ``lines`` the way a flow body does, into the run's flow log."""
    from pauta.engine.flowlog import capture_flow_output, flow_log_path, quiet_flow_output

    path = flow_log_path(settings.logs_dir, run_id)
    with quiet_flow_output(), capture_flow_output(path):
        for line in lines:
            print(line)
    return path


def test_the_flow_log_by_range_and_tail(
    client: TestClient, tokens: dict[str, str], store: Store, settings: Settings
) -> None:
    run = add_run(store, state=FlowRunState.SUCCEEDED)
    lines = ["body: comparing models", "<b>best accuracy 0.5: not deploying</b>"]
    path = write_flow_log(settings, run.id, lines)
    url = f"/api/v1/runs/{run.id}/flow-log"
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    whole = client.get(url, headers=viewer)
    assert whole.status_code == 200
    body = whole.json()
    assert body["run_id"] == run.id
    assert body["text"] == "".join(line + "\n" for line in lines)
    assert (body["size"], body["more"]) == (path.stat().st_size, False)
    first = client.get(url, params={"limit": 6}, headers=viewer).json()
    assert (first["text"], first["more"]) == ("body: ", True)
    rest = client.get(url, params={"offset": first["next_offset"]}, headers=viewer).json()
    assert rest["text"].startswith("comparing models\n")
    text = client.get(url, params={"tail": 1, "format": "text"}, headers=viewer)
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == lines[1] + "\n"
    assert client.get(url).status_code == 401


def test_a_run_whose_body_printed_nothing_has_an_empty_flow_log(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.SUCCEEDED)
    reply = client.get(f"/api/v1/runs/{run.id}/flow-log", headers=as_admin)
    assert reply.status_code == 200
    assert (reply.json()["size"], reply.json()["text"]) == (0, "")
    missing = client.get("/api/v1/runs/nosuchrun/flow-log", headers=as_admin)
    assert missing.status_code == 404


def test_a_flow_log_never_leaves_the_logs_folder(
    client: TestClient, as_admin: dict[str, str], store: Store, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    run = add_run(store, state=FlowRunState.SUCCEEDED)
    link = settings.logs_dir / run.id / "flow.log"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    reply = client.get(f"/api/v1/runs/{run.id}/flow-log", headers=as_admin)
    assert reply.status_code == 200
    assert "SECRET" not in reply.text
