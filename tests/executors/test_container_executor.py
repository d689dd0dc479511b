"""Tasks in their own containers, end to end: real podman, a real local image, a real store.

The image (Debian bookworm's minimal base with python3, the host's minor version) is built once
per machine by ``.ci/container-image.sh``; the tests build it themselves when it is missing.
They skip only where podman itself is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.loading import load_file
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import State
from pauta.definitions.environments import ContainerSpec
from pauta.engine.runner import Runner
from pauta.executors.container import ContainerExecutor
from pauta.executors.container_cli import container_name, gpu_options, human_memory
from pauta.executors.container_entry import BOOT, PROBLEM_FILE, WRONG_PYTHON

kit = load_file(Path(__file__).parent / "flowmods" / "kit.py")
cf = load_file(Path(__file__).parent / "flowmods" / "container_flows.py")
IMAGE_SCRIPT = Path(__file__).parents[2] / ".ci" / "container-image.sh"

pytestmark = pytest.mark.containers
needs_podman = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")


def _podman(*args: str) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    return done.stdout


def _containers(label: str) -> list[str]:
    return _podman("ps", "--all", "--quiet", "--filter", f"label={label}").split()


@pytest.fixture(scope="module")
def image() -> str:
    if subprocess.run(["podman", "image", "exists", cf.IMAGE], check=False).returncode != 0:
        subprocess.run([str(IMAGE_SCRIPT), cf.IMAGE], check=True)
    return cf.IMAGE


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def runner(home: Path, image: str) -> Iterator[Runner]:
    capacity = Resources(cpus=2, memory="4GiB")
    runner = Runner(Settings.from_env(home), capacity=capacity, workers=2)
    yield runner
    runner.close()


def _log(runner: Runner, run_id: str, key: str) -> str:
    [attempt] = runner.engine().store.list_attempts(run_id, key)[-1:]
    assert attempt.log_path is not None
    path = Path(attempt.log_path)
    return path.read_text() if path.exists() else ""


@needs_podman
@pytest.mark.slow
def test_a_container_task_feeds_a_process_task_and_leaves_no_container(runner: Runner) -> None:
    run = runner.run(cf.container_then_process, {"numbers": [1, 2, 3]})
    value = run.result()
    found = value["found"]
    assert found["total"] == 6
    assert found["in_container"] is True
    assert found["hostname"] != socket.gethostname()
    assert found["key"] == "inside-0"
    assert value["described"] == "6 from inside-0"
    assert "printed in the container" in _log(runner, run.id, "inside-0")
    metrics = runner.engine().store.list_metrics(run.id)
    assert [(m.key, m.name, m.value) for m in metrics] == [("inside-0", "count", 3.0)]
    assert _containers(f"pauta.run={run.id}") == []


@needs_podman
@pytest.mark.slow
def test_context_logging_metrics_and_secrets_work_inside_the_container(
    runner: Runner, home: Path
) -> None:
    secrets = home / "secrets.env"
    secrets.write_text("CONTAINER_TEST_TOKEN=s3cret-from-the-file\n")
    secrets.chmod(0o600)
    run = runner.run(cf.runtime_inside, {})
    assert run.result() == {"run_id": run.id, "attempt": 1, "token_length": 20}
    log = _log(runner, run.id, "uses_the_runtime-0")
    assert "from a user logger in the container" in log
    assert "the token is ***" in log
    assert "s3cret-from-the-file" not in log
    metrics = runner.engine().store.list_metrics(run.id)
    assert [(m.name, m.value, m.step) for m in metrics] == [("loss", 0.25, 3)]


@needs_podman
@pytest.mark.slow
def test_a_failed_attempt_is_retried_in_a_new_container(runner: Runner) -> None:
    run = runner.run(cf.retried, {})
    assert run.result().startswith("attempt 2 in ")
    [call] = run.tasks
    assert call.attempts == 2
    [first, second] = runner.engine().store.list_attempts(run.id, "flaky-0")
    assert first.error is not None
    assert first.error["type"] == "ConnectionError"
    assert first.worker != second.worker  # host:container name, one container per attempt
    assert _containers(f"pauta.run={run.id}") == []


@needs_podman
@pytest.mark.slow
def test_a_container_that_passes_its_memory_limit_fails_with_kind_oom(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = runner.run(cf.too_greedy, {})
    assert run.state == "FAILED"
    [call] = run.tasks
    assert call.state == State.FAILED
    assert call.error is not None
    assert call.error["kind"] == "oom"
    assert call.error["message"] == "the container ran out of its 64 MiB"
    assert "pauta: the container ran out of its 64 MiB" in _log(runner, run.id, "greedy-0")
    assert _containers(f"pauta.run={run.id}") == []
    assert list(tmp_path.iterdir()) == []  # nothing left in the caller's working directory


@needs_podman
@pytest.mark.slow
def test_a_container_past_its_timeout_is_killed_and_removed(runner: Runner) -> None:
    started = time.monotonic()
    run = runner.run(cf.container_timeout, {})
    assert time.monotonic() - started < 30  # not the task's 60 s
    assert run.state == "FAILED"
    [call] = run.tasks
    assert call.error is not None
    assert call.error["kind"] == "timeout"
    assert "its container was killed" in call.error["message"]
    assert _containers(f"pauta.run={run.id}") == []


@needs_podman
@pytest.mark.slow
def test_a_missing_image_says_how_to_get_one(runner: Runner) -> None:
    run = runner.run(cf.missing_image, {})
    assert run.state == "FAILED"
    [call] = run.tasks
    assert call.error is not None
    assert call.error["kind"] == "environment"
    message = call.error["message"]
    assert f"the container image {cf.MISSING_IMAGE!r} is not on this machine" in message
    assert f"podman build -t {cf.MISSING_IMAGE}" in message
    assert _containers(f"pauta.run={run.id}") == []


# -- the executor on its own --------------------------------------------------------------------


def _item(tmp_path: Path, fn, *args, key: str) -> object:
    run = kit.RUN._replace(run_id=f"run-{uuid.uuid4().hex[:8]}")
    item = kit.item(fn, *args, log_dir=tmp_path / "logs", key=key, run=run)
    item.container = ContainerSpec(cf.IMAGE)
    return item


@needs_podman
@pytest.mark.slow
def test_a_cancelled_container_is_killed_and_removed(tmp_path: Path, image: str) -> None:
    executor = ContainerExecutor(workers=1, results_url=str(tmp_path / "results"))
    executor.start(kit.Wakeup())
    try:
        item = _item(tmp_path, cf.sleeps, 60, key="sleeps-0")
        executor.submit([item])
        name = container_name(item.run.run_id, item.key, item.attempt)
        deadline = time.monotonic() + 30
        while name not in _podman("ps", "--format", "{{.Names}}").split():
            assert time.monotonic() < deadline, "the container never started"
            time.sleep(0.1)
        labels = _podman("inspect", "--format", "{{json .Config.Labels}}", name)
        assert f'"pauta.run":"{item.run.run_id}"' in labels
        assert '"pauta.key":"sleeps-0"' in labels
        assert f'"pauta.worker":"{socket.gethostname()}:{os.getpid()}"' in labels
        assert executor.cancel(item.run.run_id, item.key) is True
        [outcome] = kit.collect(executor, 1, timeout=30)
        assert outcome.state == State.FAILED
        assert outcome.error.kind == "cancelled"
        assert _containers(f"pauta.run={item.run.run_id}") == []
    finally:
        executor.shutdown(kill=True)


@needs_podman
@pytest.mark.slow
def test_a_container_cancelled_while_it_is_created_is_removed_too(
    tmp_path: Path, image: str
) -> None:
    executor = ContainerExecutor(workers=1, results_url=str(tmp_path / "results"))
    executor.start(kit.Wakeup())
    try:
        item = _item(tmp_path, cf.sleeps, 60, key="sleeps-0")
        started = time.monotonic()
        executor.submit([item])
        assert executor.cancel(item.run.run_id, item.key) is True
        [outcome] = kit.collect(executor, 1, timeout=30)
        assert outcome.error.kind == "cancelled"
        assert time.monotonic() - started < 8  # not the task's 60 s
        assert _containers(f"pauta.run={item.run.run_id}") == []
    finally:
        executor.shutdown(kill=True)


_KILLED_DRIVER = """
import sys, time
from pathlib import Path
from pauta.core.loading import load_file
from pauta.definitions.environments import ContainerSpec
from pauta.executors.container import ContainerExecutor

kit = load_file(Path(sys.argv[1]) / "kit.py")
cf = load_file(Path(sys.argv[1]) / "container_flows.py")
run = kit.RUN._replace(run_id=sys.argv[2])
item = kit.item(cf.sleeps, 60, log_dir=Path(sys.argv[3]) / "logs", key="sleeps-0", run=run)
item.container = ContainerSpec(cf.IMAGE)
executor = ContainerExecutor(workers=1, results_url=sys.argv[3] + "/results")
executor.start(kit.Wakeup())
executor.submit([item])
time.sleep(600)
"""


@needs_podman
@pytest.mark.slow
def test_the_container_of_a_killed_worker_is_removed_by_the_next_one(
    tmp_path: Path, image: str
) -> None:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    driver = subprocess.Popen(
        [sys.executable, "-c", _KILLED_DRIVER, str(Path(cf.__file__).parent), run_id,
         str(tmp_path)],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _podman("ps", "--quiet", "--filter", f"label=pauta.run={run_id}").split():
            assert time.monotonic() < deadline, "the container never started"
            assert driver.poll() is None, "the driver died before its container started"
            time.sleep(0.1)
    finally:
        driver.kill()
        driver.wait()
    assert len(_containers(f"pauta.run={run_id}")) == 1  # it outlived its worker
    executor = ContainerExecutor(workers=1, results_url=str(tmp_path / "results"))
    executor.start(kit.Wakeup())
    executor.shutdown()
    assert _containers(f"pauta.run={run_id}") == []


@needs_podman
@pytest.mark.slow
def test_a_starting_executor_removes_the_containers_of_a_dead_worker(
    tmp_path: Path, image: str
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid of this host that no longer runs
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    host = socket.gethostname()
    made = {}
    for owner, pid in (("dead", gone.pid), ("live", os.getpid())):
        name = f"pauta-{run_id}-{owner}"
        subprocess.run(
            ["podman", "create", "--name", name, "--label", f"pauta.run={run_id}",
             "--label", f"pauta.worker={host}:{pid}", cf.IMAGE, "true"],
            check=True, capture_output=True,
        )  # fmt: skip
        made[owner] = name
    try:
        executor = ContainerExecutor(workers=1, results_url=str(tmp_path / "results"))
        executor.start(kit.Wakeup())
        executor.shutdown()
        left = _podman(
            "ps", "--all", "--format", "{{.Names}}", "--filter", f"label=pauta.run={run_id}"
        )
        assert left.split() == [made["live"]]  # a running worker's containers are its own
    finally:
        subprocess.run(["podman", "rm", "--force", "--ignore", *made.values()], capture_output=True)


def test_a_missing_cli_says_what_to_install(tmp_path: Path) -> None:
    executor = ContainerExecutor(
        workers=1, results_url=str(tmp_path / "results"), cli=["pauta-no-such-cli"]
    )
    executor.start(kit.Wakeup())
    item = _item(tmp_path, cf.sleeps, 0, key="sleeps-0")
    outcome = kit.run_one(executor, item)
    assert outcome.error.kind == "environment"
    assert "the container CLI 'pauta-no-such-cli' is not installed: install podman" in (
        outcome.error.message
    )
    assert "PAUTA_CONTAINER_CLI=docker" in outcome.error.message


def test_an_image_with_another_python_minor_version_is_refused_in_plain_words(
    tmp_path: Path,
) -> None:
    # BOOT is what the container runs first; here the host's Python plays an image's
    done = subprocess.run(
        [sys.executable, "-c", BOOT, str(tmp_path), "3.99"], capture_output=True, text=True
    )
    assert done.returncode == WRONG_PYTHON
    found = "{}.{}".format(*sys.version_info[:2])
    text = (
        f"the image's python3 is Python {found}, but pauta runs Python 3.99: values cross "
        "pickled, so use an image with Python 3.99"
    )
    assert (tmp_path / PROBLEM_FILE).read_text() == text
    assert done.stderr == f"pauta: {text}\n"


def test_assigned_gpus_become_devices_of_the_container() -> None:
    assert gpu_options("podman", ()) == []
    assert gpu_options("/usr/bin/podman", (0, 2)) == [
        "--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=2",
    ]  # fmt: skip
    assert gpu_options("docker", (1, 3)) == ["--gpus", '"device=1,3"']


def test_names_and_sizes_read_as_people_write_them() -> None:
    assert container_name("2026-03-02T03:00 run", "train[big]-0", 2) == (
        "pauta-2026-03-02T03-00-run-train-big--0-2"
    )
    assert human_memory(64 * 1024**2) == "64 MiB"
    assert human_memory(1024**3) == "1 GiB"
    assert human_memory(1536 * 1024**2) == "1.5 GiB"
