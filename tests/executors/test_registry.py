"""The executor registry: built-ins by name, plugins through real entry points, broken ones kept."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.executors.container import ContainerExecutor
from pauta.executors.inline import InlineExecutor
from pauta.executors.local import LocalExecutor
from pauta.executors.registry import (
    ExecutorConfig,
    ExecutorRegistry,
    ExecutorSpec,
)
from pauta.executors.venv import VenvExecutor


def _config(tmp_path: Path) -> ExecutorConfig:
    settings = Settings.from_env(tmp_path)
    return ExecutorConfig(settings, Resources(cpus=3), workers=2)


def test_built_ins_are_found_by_name_with_their_capacity_model(tmp_path: Path) -> None:
    registry = ExecutorRegistry(entry_points=list)
    assert registry.names() == ["container", "inline", "local", "ray", "sensor", "venv"]
    local = registry.create("local", _config(tmp_path))
    assert isinstance(local, LocalExecutor)
    assert local.slots() == 2
    inline = registry.create("inline", _config(tmp_path))
    assert isinstance(inline, InlineExecutor)
    assert inline.slots() == 3
    assert registry.spec("sensor").capacity == "unbounded"
    assert registry.spec("ray").capacity == "nodes"
    venv = registry.create("venv", _config(tmp_path))
    assert isinstance(venv, VenvExecutor)
    assert venv.slots() == 2
    container = registry.create("container", _config(tmp_path))
    assert isinstance(container, ContainerExecutor)
    assert container.slots() == 2


def test_an_unknown_name_suggests_the_closest_and_lists_all() -> None:
    registry = ExecutorRegistry(entry_points=list)
    with pytest.raises(PautaError) as error:
        registry.spec("locl")
    message = str(error.value)
    assert "did you mean 'local'?" in message
    assert "'container', 'inline', 'local', 'ray', 'sensor', 'venv'" in message


def test_plugins_are_not_read_until_a_name_is_not_built_in() -> None:
    reads: list[int] = []

    def entry_points() -> list[EntryPoint]:
        reads.append(1)
        return []

    registry = ExecutorRegistry(entry_points=entry_points)
    registry.spec("local")
    assert reads == []
    with pytest.raises(PautaError):
        registry.spec("dask")
    assert reads == [1]


def test_a_built_in_cannot_be_replaced() -> None:
    registry = ExecutorRegistry(entry_points=list)
    with pytest.raises(PautaError, match="built in"):
        registry.register(ExecutorSpec("local", lambda config: None))  # type: ignore[arg-type,return-value]


PLUGIN = '''
from pauta.executors.inline import InlineExecutor
from pauta.executors.registry import ExecutorSpec


def _make(config):
    return InlineExecutor(threads=1, results_url=config.results_url)


SPEC = ExecutorSpec("threads1", _make, "slots", "one thread")


def factory(config):
    """Two threads of this process."""
    return InlineExecutor(threads=2, results_url=config.results_url)
'''


def _install_plugin(site: Path, entries: str) -> None:
    """A real installed distribution (a dist-info folder on sys.path) declaring entry points."""
    (site / "demo_exec_plugin.py").write_text(PLUGIN)
    info = site / "demo_exec_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-exec-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pauta.executors]\n" + textwrap.dedent(entries))


def test_plugins_load_from_installed_entry_points_and_broken_ones_are_kept(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(
        site,
        """\
        threads1 = demo_exec_plugin:SPEC
        threads2 = demo_exec_plugin:factory
        broken = demo_exec_plugin_missing:SPEC
        """,
    )
    script = f"""
import sys
sys.path.insert(0, {str(site)!r})
from pathlib import Path
from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.executors.registry import ExecutorConfig, ExecutorRegistry
registry = ExecutorRegistry()
config = ExecutorConfig(Settings.from_env(Path({str(tmp_path)!r})), Resources(cpus=1), workers=1)
print(registry.names())
print(registry.create("threads1", config).slots(), registry.create("threads2", config).slots())
print(registry.spec("threads2").summary, "|", registry.spec("threads1").source)
print([b.name for b in registry.broken()])
try:
    registry.spec("broken")
except PautaError as exc:
    print("ERROR", exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert (
        lines[0]
        == "['container', 'inline', 'local', 'ray', 'sensor', 'threads1', 'threads2', 'venv']"
    )
    assert lines[1] == "1 2"
    assert lines[2] == "Two threads of this process. | package demo-exec-plugin 1.0"
    assert lines[3] == "['broken']"
    assert lines[4].startswith("ERROR executor 'broken' comes from package demo-exec-plugin 1.0")
    assert "ModuleNotFoundError" in lines[4]


def test_pauta_run_refuses_an_unknown_executor_clearly(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("from pauta import flow\n\n@flow\ndef f():\n    return 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "pauta", "run", str(flow), "--executor", "lcal"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PAUTA_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 2
    assert "unknown executor 'lcal': did you mean 'local'?" in done.stderr
