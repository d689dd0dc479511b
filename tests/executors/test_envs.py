"""Building, sharing, listing and pruning virtualenvs, for real (packages come from PyPI)."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pauta.definitions.environments import VenvSpec
from pauta.executors.envs import (
    MARKER,
    PTH_FILE,
    EnvBuildError,
    Environments,
    env_key,
    find_uv,
)

pytestmark = pytest.mark.slow

SIX = VenvSpec(("six==1.16.0",))
ROOT = Path(__file__).resolve().parents[2]


def _run_in(env_python: Path, code: str) -> str:
    # no PYTHONPATH: what the environment sees on its own
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(env_python), "-c", code], capture_output=True, text=True, env=clean, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_an_environment_has_its_requirements_and_pauta_but_not_pautas_dependencies(
    tmp_path: Path, installer: str
) -> None:
    if installer == "uv" and find_uv() is None:
        pytest.skip("uv is not installed (`pip install 'pauta[uv]'`); the pip build is tested")
    envs = Environments(tmp_path / "envs", installer=installer)
    env = envs.acquire(SIX)
    try:
        assert env.built
        assert env.path == tmp_path / "envs" / env_key(SIX)
        seen = _run_in(
            env.python,
            "import importlib.util as u, six, pauta, pauta.executors.worker; "
            "print(six.__version__, u.find_spec('sqlalchemy') is None, "
            "u.find_spec('rich') is None)",
        )
        assert seen == "1.16.0 True True"
        marker = json.loads((env.path / MARKER).read_text())
        assert marker["installer"] == installer
        assert marker["requirements"] == ["six==1.16.0"]
        assert marker["python_version"] == ".".join(map(str, sys.version_info[:3]))
    finally:
        env.release()


def test_the_same_requirements_in_any_order_share_one_environment(tmp_path: Path) -> None:
    assert env_key(VenvSpec(("a==1", "b==2"))) == env_key(VenvSpec(("b==2", "a==1")))
    assert env_key(VenvSpec(("a==1",))) != env_key(VenvSpec(("a==2",)))
    assert env_key(VenvSpec(("a==1",))) != env_key(VenvSpec(("a==1",), "/usr/bin/python3"))
    envs = Environments(tmp_path / "envs")
    first = envs.acquire(VenvSpec())
    second = envs.acquire(VenvSpec())
    assert (first.built, second.built) == (True, False)
    assert first.path == second.path
    first.release()
    second.release()


def test_an_environment_cut_short_is_built_again(tmp_path: Path) -> None:
    envs = Environments(tmp_path / "envs")
    env = envs.acquire(VenvSpec())
    env.release()
    (env.path / MARKER).unlink()  # as if the builder had died before the end
    (env.path / "left-over").write_text("from the interrupted build")
    again = envs.acquire(VenvSpec())
    again.release()
    assert again.built
    assert (again.path / MARKER).exists()
    assert not (again.path / "left-over").exists()


_BUILDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from pauta.definitions.environments import VenvSpec
    from pauta.executors.envs import Environments

    root, go, ready = sys.argv[1:4]
    envs = Environments(root)
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.005)
    env = envs.acquire(VenvSpec(("six==1.16.0",)))
    print(json.dumps({"built": env.built, "seconds": env.seconds, "path": str(env.path)}))
    """
)


def test_two_processes_asking_for_one_environment_build_it_once(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    go = tmp_path / "go"
    procs = []
    for n in range(2):
        ready = tmp_path / f"ready-{n}"
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, "-c", _BUILDER, str(root), str(go), str(ready)],
                    stdout=subprocess.PIPE,
                    text=True,
                ),
                ready,
            )
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for _, ready in procs):
        assert time.monotonic() < deadline, "the builders did not start"
        time.sleep(0.01)
    go.touch()  # both ask at the same moment
    results = []
    for proc, _ in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0
        results.append(json.loads(out))
    assert sorted(r["built"] for r in results) == [False, True]
    assert len({r["path"] for r in results}) == 1
    builder = next(r for r in results if r["built"])
    waiter = next(r for r in results if not r["built"])
    # the second waited on the lock for the first's build instead of building beside it
    assert waiter["seconds"] >= 0.5 * builder["seconds"]
    log = (root / f"{env_key(SIX)}.log").read_text()
    assert log.count(" venv ") == 1


def test_a_failed_build_raises_with_the_installers_own_words(tmp_path: Path) -> None:
    envs = Environments(tmp_path / "envs")
    spec = VenvSpec(("pauta-no-such-package-7f3c==1.0",))
    with pytest.raises(EnvBuildError) as caught:
        envs.acquire(spec)
    message = str(caught.value)
    assert message.startswith("building the virtualenv failed while installing the requirements")
    assert "pauta-no-such-package-7f3c" in caught.value.tail
    assert str(tmp_path / "envs" / f"{env_key(spec)}.log") in message
    assert envs.list() == []


def _other_minor_python() -> str | None:
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"))
    candidates += [f"/usr/bin/python3.{minor}" for minor in range(8, 16)]
    for candidate in sorted(candidates):
        if not re.fullmatch(r".*/python3\.\d+", candidate) or not os.access(candidate, os.X_OK):
            continue
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        version = done.stdout.strip()
        if done.returncode == 0 and version != ours and version >= "3.8":
            return candidate
    return None


def test_another_python_minor_version_is_refused_with_the_reason(tmp_path: Path) -> None:
    other = _other_minor_python()
    if other is None:
        pytest.skip("no interpreter of another Python minor version on this machine")
    with pytest.raises(EnvBuildError, match="needs the same minor version"):
        Environments(tmp_path / "envs").acquire(VenvSpec((), other))


def test_an_unknown_installer_and_a_missing_interpreter_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_ENV_INSTALLER", "conda")
    with pytest.raises(EnvBuildError, match="PAUTA_ENV_INSTALLER='conda' is not one of uv, pip"):
        Environments(tmp_path / "envs").acquire(VenvSpec())
    monkeypatch.setenv("PAUTA_ENV_INSTALLER", "pip")
    with pytest.raises(EnvBuildError, match="python='/nowhere/python3': no interpreter there"):
        Environments(tmp_path / "envs").acquire(VenvSpec((), "/nowhere/python3"))
    with pytest.raises(EnvBuildError, match=r"python='3\.99': python3\.99 is not on PATH"):
        Environments(tmp_path / "envs").acquire(VenvSpec((), "3.99"))


def test_prune_keeps_environments_in_use_and_removes_unused_and_incomplete(
    tmp_path: Path,
) -> None:
    envs = Environments(tmp_path / "envs")
    held = envs.acquire(VenvSpec())
    idle = envs.acquire(SIX)
    idle.release()
    broken = tmp_path / "envs" / ("0" * 16)  # a build that died: no marker
    broken.mkdir()
    for suffix in (".log", ".lock"):  # what a failed build leaves: its log, its lock
        (tmp_path / "envs" / f"{'1' * 16}{suffix}").write_text("")
    listed = {info.key: info for info in envs.list()}
    assert listed[held.key].in_use
    assert listed[held.key].complete
    assert not listed[idle.key].in_use
    assert not listed["0" * 16].complete
    assert listed[idle.key].size_bytes > 0
    now = time.time()
    # used within the last day: only the incomplete one goes
    removed = envs.prune(unused_for=86400, now=now)
    assert [info.key for info in removed] == ["0" * 16]
    assert not list((tmp_path / "envs").glob("1111*"))
    # a week later the idle one goes; the one in use stays whatever its age
    removed = envs.prune(unused_for=86400, now=now + 7 * 86400)
    assert [info.key for info in removed] == [idle.key]
    assert not idle.path.exists()
    assert not (tmp_path / "envs" / f"{idle.key}.use").exists()
    assert envs.prune(unused_for=None, everything=True, now=now) == []
    held.release()
    assert [info.key for info in envs.prune(unused_for=None, everything=True, now=now)] == [
        held.key
    ]
    assert envs.list() == []


def test_the_runtime_file_names_a_folder_holding_only_pautas_runtime(tmp_path: Path) -> None:
    env = Environments(tmp_path / "envs").acquire(VenvSpec())
    env.release()
    [pth] = glob.glob(str(env.path / "lib" / "python*" / "site-packages" / PTH_FILE))
    runtime = Path(Path(pth).read_text().strip())
    assert sorted(p.name for p in runtime.iterdir()) == ["cloudpickle", "cronsim", "pauta"]
    assert (runtime / "pauta").resolve() == (Path(__file__).parents[2] / "src" / "pauta").resolve()
