"""A ``pauta.serializers`` plugin: results of its types are stored with it, not pickled."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import plugin_flows as pf
import pytest
from installed import Site, install

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.plugins import discovery
from pauta.store.results import ResultStore, StoredResult


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    installed = install(tmp_path / "site", "plugin", "plugin_broken")
    for path in reversed(installed.paths):
        monkeypatch.syspath_prepend(str(path))
    # worker processes find the packages the same way
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [installed.pythonpath, os.environ.get("PYTHONPATH")])),
    )
    discovery.reload()
    yield installed
    discovery.reload()
    # the installed plugins' modules only: flow files loaded as pauta_flows.* stay
    for module in [name for name in sys.modules if name.startswith("pauta_")]:
        if not module.startswith("pauta_flows"):
            del sys.modules[module]


def test_a_plugin_type_is_stored_with_its_serializer_inline_and_in_a_file(
    site: Site, tmp_path: Path
) -> None:
    from pauta_example_plugin.serializer import Measurement

    value = Measurement("loss", 0.25, "nats")
    inline = ResultStore(str(tmp_path / "results")).put(value, run_id="r", key="k", attempt=1)
    assert inline.serializer == "example-json"
    assert inline.inline == b'{"name": "loss", "unit": "nats", "value": 0.25}'
    files = ResultStore(str(tmp_path / "results"), inline_max=0)
    stored = files.put(value, run_id="r", key="k", attempt=1)
    assert stored.uri is not None
    assert stored.uri.endswith("/r/k.1.json")
    assert Path(stored.uri.removeprefix("file://")).read_text() == inline.inline.decode()
    assert files.get(stored) == value
    assert files.get(inline) == value
    # other values are pickled as before, with the broken package installed beside it
    other = files.put({"a": [1, 2]}, run_id="r", key="o", attempt=1)
    assert other.serializer == "pickle"
    assert files.get(other) == {"a": [1, 2]}


def test_a_result_of_a_missing_serializer_says_which_it_needs(site: Site, tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "results"))
    with pytest.raises(ValueError, match=r"serializer 'nosuch', which no installed plugin"):
        store.get(StoredResult(None, b"{}", 2, "nosuch", "{}"))


def test_a_task_returning_a_plugin_type_round_trips_through_a_run(
    site: Site, tmp_path: Path
) -> None:
    from pauta_example_plugin.serializer import Measurement

    runner = Runner(Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1)
    try:
        run = runner.run(pf.measured, {"value": 91.5})
        [task] = runner.engine().store.list_task_runs(run.id)
    finally:
        runner.close()
    assert run.state == "SUCCEEDED"
    assert run.result() == Measurement("accuracy", 91.5, "%")
    assert task.result is not None
    assert task.result.serializer == "example-json"
