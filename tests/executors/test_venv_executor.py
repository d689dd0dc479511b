"""Tasks in their own virtualenvs, end to end: real environments built from PyPI, real worker
processes in them, a real store.

The environments of this module live in one folder (``PAUTA_ENVS_DIR``), so each is built once
here: the first test pays for the build, the others check it is reused.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.loading import load_file
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import State
from pauta.definitions.environments import VenvSpec
from pauta.engine.runner import Runner
from pauta.executors.envs import MARKER, Environments, env_key
from pauta.executors.venv import VenvExecutor, project_paths

kit = load_file(Path(__file__).parent / "flowmods" / "kit.py")
vf = load_file(Path(__file__).parent / "flowmods" / "venv_flows.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def envs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("envs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAUTA_ENVS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, envs_dir: Path) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def runner(home: Path) -> Iterator[Runner]:
    runner = Runner(Settings.from_env(home), capacity=Resources(cpus=2), workers=2)
    yield runner
    runner.close()


def _log(runner: Runner, run_id: str, key: str) -> str:
    [attempt] = runner.engine().store.list_attempts(run_id, key)[-1:]
    assert attempt.log_path is not None
    path = Path(attempt.log_path)
    return path.read_text() if path.exists() else ""  # a silent attempt has no log


def _probe_env(envs_dir: Path) -> Path:
    return envs_dir / env_key(VenvSpec((vf.PROBE,)))


def test_a_venv_task_imports_what_the_host_lacks_and_feeds_a_process_task(
    runner: Runner, envs_dir: Path
) -> None:
    run = runner.run(vf.probe_then_process, {"labels": ["a", "b", "c"]})
    value = run.result()
    env = _probe_env(envs_dir)
    assert [info["probe"] for info in value["infos"]] == ["1.0"] * 3
    assert {info["prefix"] for info in value["infos"]} == {str(env)}
    # the environment has the probe but none of pauta's own dependencies
    assert not any(info["host_pauta_deps"] for info in value["infos"])
    assert value["host_has_probe"] is False
    assert value["described"] == f"a: probe 1.0 in {env}"
    # the first task's log says it waited for the build
    assert f"pauta: built the virtualenv {env} in " in _log(runner, run.id, "probe_info-0")
    assert json.loads((env / MARKER).read_text())["requirements"] == [vf.PROBE]


def test_one_environment_serves_later_tasks_and_runs_without_a_rebuild(
    runner: Runner, envs_dir: Path, home: Path
) -> None:
    marker = _probe_env(envs_dir) / MARKER
    if not marker.exists():
        runner.run(vf.probe_then_process, {"labels": ["first"]}).result()
    built_at = marker.stat().st_mtime_ns
    # a second run of this process: the warm worker of the environment runs both tasks
    run = runner.run(vf.probe_then_process, {"labels": ["x"]})
    first = run.result()["infos"][0]
    again = runner.run(vf.probe_then_process, {"labels": ["y"]}).result()["infos"][0]
    assert again["pid"] == first["pid"]
    [attempt] = runner.engine().store.list_attempts(run.id, "probe_info-0")
    # no build note: the attempt printed nothing at all, or nothing about a build
    assert (
        attempt.log_path is None or "built the virtualenv" not in Path(attempt.log_path).read_text()
    )
    # another engine with its own executor (as another process would) finds it built
    other = Runner(Settings.from_env(home), capacity=Resources(cpus=2), workers=1)
    try:
        later = other.run(vf.probe_then_process, {"labels": ["z"]}).result()["infos"][0]
    finally:
        other.close()
    assert later["pid"] != first["pid"]
    assert later["probe"] == "1.0"
    assert marker.stat().st_mtime_ns == built_at
    complete = [e for e in Environments(envs_dir).list() if e.complete]
    assert [e.requirements for e in complete] == [[vf.PROBE]]


def test_a_requirement_that_cannot_be_installed_fails_the_attempt_with_the_installer_tail(
    runner: Runner, envs_dir: Path
) -> None:
    run = runner.run(vf.broken_environment, {})
    assert run.state == "FAILED"
    [call] = [t for t in run.tasks if t.key == "never_built-0"]
    assert call.state == State.FAILED
    assert call.attempts == 2  # the retry policy decided: the build was tried again
    error = call.error
    assert error is not None
    assert error["kind"] == "environment"
    assert error["type"] == "EnvironmentBuildError"
    assert "building the virtualenv failed while installing the requirements" in error["message"]
    assert "the installer's last lines" in error["message"]
    assert vf.MISSING.split("==")[0] in error["traceback"]  # the installer names what it missed
    assert vf.MISSING.split("==")[0] in _log(runner, run.id, "never_built-0")
    # nothing half-built is left to be mistaken for an environment
    key = env_key(VenvSpec((vf.MISSING,)))
    assert not (envs_dir / key).exists()
    assert (envs_dir / f"{key}.log").exists()


def test_context_logging_metrics_and_secrets_work_inside_the_venv(
    runner: Runner, home: Path
) -> None:
    secrets = home / "secrets.env"
    secrets.write_text("VENV_TEST_TOKEN=s3cret-from-the-file\n")
    secrets.chmod(0o600)
    run = runner.run(vf.runtime_inside, {})
    value = run.result()
    assert value == {
        "run_id": run.id,
        "flow": "runtime_inside",
        "attempt": 1,
        "key": "uses_the_runtime-0",
        "token_length": len("s3cret-from-the-file"),
    }
    log = _log(runner, run.id, "uses_the_runtime-0")
    assert "from the task logger in the venv" in log
    assert "from a user logger in the venv" in log
    assert "printed in the venv" in log
    assert "the token is ***" in log
    assert "s3cret-from-the-file" not in log
    metrics = runner.engine().store.list_metrics(run.id)
    assert [(m.key, m.name, m.value, m.step) for m in metrics] == [
        ("uses_the_runtime-0", "loss", 0.25, 3)
    ]


@pytest.mark.parametrize(
    ("flow", "made", "loads", "missing"),
    [
        ("value_the_host_cannot_load", "probe_object-0", "type_name-0", "pauta_venv_probe"),
        ("value_the_environment_cannot_load", "host_only_value-0", "type_name_in_venv-0", "rich"),
    ],
    ids=["venv-to-host", "host-to-venv"],
)
def test_a_value_of_a_class_one_side_lacks_fails_the_task_that_loads_it(
    runner: Runner, flow: str, made: str, loads: str, missing: str
) -> None:
    run = runner.run(getattr(vf, flow), {})
    assert run.state == "FAILED"
    by_key = {t.key: t for t in run.tasks}
    assert by_key[made].state == State.SUCCEEDED
    failed = by_key[loads]
    assert failed.state == State.FAILED
    assert failed.error is not None
    assert failed.error["type"] == "ModuleNotFoundError"
    assert failed.error["message"] == f"No module named '{missing}'"


def test_a_venv_task_that_runs_too_long_is_killed(runner: Runner) -> None:
    run = runner.run(vf.venv_timeout, {})
    assert run.state == "FAILED"
    [call] = run.tasks
    assert call.error is not None
    assert call.error["kind"] == "timeout"


# -- the executor on its own --------------------------------------------------------------------


def test_an_attempt_waiting_for_its_environment_can_be_cancelled(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    envs.mkdir()
    spec = VenvSpec(("some-requirement==1",))
    # holding the build lock keeps the environment "being built by another process"
    held = os.open(envs / f"{env_key(spec)}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    executor = VenvExecutor(envs=Environments(envs), workers=1, results_url=str(tmp_path / "r"))
    wakeup = kit.Wakeup()
    executor.start(wakeup)
    try:
        waiting = kit.item(vf.host_has_probe, log_dir=tmp_path / "logs", key="waits")
        waiting.venv = spec
        other = kit.item(vf.host_has_probe, log_dir=tmp_path / "logs", key="stays")
        other.venv = spec
        executor.submit([waiting, other])
        assert executor.collect() == []
        assert executor.cancel("run-1", "waits") is True
        [cancelled] = executor.collect()
        assert (cancelled.key, cancelled.error.kind) == ("waits", "cancelled")
        executor.shutdown(kill=True)
        [interrupted] = executor.collect()
        assert interrupted.key == "stays"
        assert interrupted.interrupted
    finally:
        os.close(held)
        executor.shutdown(kill=True)


def test_a_venv_worker_sees_the_projects_folders_but_not_the_hosts_packages() -> None:
    import sys

    kept = project_paths(["", "/work/project/src", *sys.path])
    assert kept[:2] == ["", "/work/project/src"]
    assert not any("site-packages" in entry for entry in kept)
    assert sys.prefix not in kept
