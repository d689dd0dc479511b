"""Replicas in a virtualenv and in a container: the same supervisor, health checks and proxy,
the isolation of ``venv`` and ``container`` tasks (``pauta.executors``).

The virtualenv is built from the local wheel the venv executor's tests use (no index needed);
the container runs the local test image that ``.ci/container-image.sh`` builds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from services_support import HERE, SupervisorThread, ask, eventually, free_port

from pauta import services
from pauta.definitions.environments import VenvSpec
from pauta.executors.envs import MARKER, env_key
from pauta.services import ServiceSpecError

pytestmark = pytest.mark.slow

PROBE = str(
    HERE.parent / "executors" / "flowmods" / "wheels" / "pauta_venv_probe-1.0-py3-none-any.whl"
)
IMAGE = "localhost/pauta-test:1"
APP = "isolated_app:create_app"


@pytest.fixture
def isolated(apps: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(HERE / "isolated_app.py", apps / "isolated_app.py")
    envs = tmp_path / "envs"
    monkeypatch.setenv("PAUTA_ENVS_DIR", str(envs))
    return envs


def test_a_venv_replica_serves_from_the_environment_a_venv_task_would_use(
    supervisor: SupervisorThread, isolated: Path
) -> None:
    port = free_port()
    deployed = services.deploy(
        "venvy",
        app=APP,
        config={"answer": 1},
        port=port,
        isolation="venv",
        requirements=[PROBE],
        ready_timeout=60,
    )
    assert deployed == "venvy@1"
    status, body = ask(port)
    env = isolated / env_key(VenvSpec((PROBE,)))  # the venv executor's cache and hash
    assert (env / MARKER).is_file()
    assert status == 200
    assert body["answer"] == 1
    assert Path(body["prefix"]).resolve() == env.resolve()
    assert body["probe"] is not None
    assert Path(body["probe"]).resolve().is_relative_to(env.resolve())
    # a second revision finds the environment built: nothing is built again
    built = (env / MARKER).stat().st_mtime
    services.deploy("venvy", app=APP, config={"answer": 2}, isolation="venv", requirements=[PROBE])
    assert ask(port)[1]["answer"] == 2
    assert (env / MARKER).stat().st_mtime == built


def test_a_venv_that_cannot_be_built_fails_the_deploy_with_the_installer_tail(
    supervisor: SupervisorThread, isolated: Path
) -> None:
    missing = "pauta-no-such-package-7f3c==1.0"
    with pytest.raises(services.DeployFailed, match="virtualenv could not be built") as failed:
        services.deploy(
            "venvy",
            app=APP,
            port=free_port(),
            isolation="venv",
            requirements=[missing],
            ready_timeout=60,
        )
    assert "pauta-no-such-package-7f3c" in str(failed.value)


def test_isolation_options_are_checked_as_a_tasks_are(apps: Path) -> None:
    with pytest.raises(ServiceSpecError, match="needs image="):
        services.deploy("x", app=APP, isolation="container")
    with pytest.raises(ServiceSpecError, match="apply only to isolation='venv'"):
        services.deploy("x", app=APP, requirements=["six"])
    with pytest.raises(ServiceSpecError, match="isolation must be"):
        services.deploy("x", app=APP, isolation="vm")


def _image_missing() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed"
    found = subprocess.run(
        ["podman", "image", "exists", IMAGE], capture_output=True, timeout=60, check=False
    )
    if found.returncode != 0:
        return f"the test image {IMAGE} is missing: build it with .ci/container-image.sh"
    return None


def _containers(service: str) -> list[str]:
    out = subprocess.run(
        [
            "podman",
            "ps",
            "--all",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=pauta.service={service}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out.stdout.split()


@pytest.fixture
def image() -> str:
    missing = _image_missing()
    if missing:
        pytest.skip(missing)
    return IMAGE


@pytest.mark.containers
def test_a_container_replica_serves_through_the_proxy_and_is_removed_when_stopped(
    supervisor: SupervisorThread, isolated: Path, image: str
) -> None:
    port = free_port()
    services.deploy(
        "boxed",
        app=APP,
        config={"answer": "boxed"},
        port=port,
        isolation="container",
        image=image,
        ready_timeout=60,
    )
    status, body = ask(port)
    assert status == 200
    assert body["answer"] == "boxed"
    assert body["in_container"] is True
    assert body["python"].startswith("/usr/bin/python3")
    [replica] = services.get("boxed").replicas
    assert replica.state == "READY"
    assert len(_containers("boxed")) == 1

    from pauta.services import control

    control.stop(supervisor.store, "boxed")
    eventually(lambda: not _containers("boxed"), 60, "the container removed")


@pytest.mark.containers
def test_containers_left_by_a_dead_supervisor_are_removed_when_one_starts(
    store: object, home: Path, apps: Path, image: str
) -> None:
    name = "pauta-svc-leftover-r1-0-1"
    subprocess.run(
        [
            "podman",
            "run",
            "-d",
            "--name",
            name,
            "--label",
            "pauta.service=leftover",
            "--label",
            f"pauta.worker={__import__('socket').gethostname()}:999999",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            image,
            "sleep",
            "300",
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    try:
        assert _containers("leftover") == [name]
        running = SupervisorThread(store, home / "services").start()  # type: ignore[arg-type]
        try:
            eventually(lambda: not _containers("leftover"), 60, "the left-over removed")
        finally:
            running.stop()
    finally:
        subprocess.run(
            ["podman", "rm", "-f", "--time", "0", name], capture_output=True, check=False
        )
