"""The pauta side of each example in docs/from-airflow.md runs and gives what the page says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.loading import load_file
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOC = Path(__file__).resolve().parents[2] / "docs" / "from-airflow.md"
fa = load_file(EXAMPLES / "from_airflow.py")


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    home = tmp_path_factory.mktemp("from-airflow")
    runner = Runner(Settings.from_env(home), capacity=Resources(cpus=2), workers=2)
    yield runner
    runner.close()


def test_tutorial(runner: Runner) -> None:
    run = runner.run(fa.tutorial, {"sleep_seconds": 0})
    assert run.state == "SUCCEEDED", run.error
    value = run.result()
    assert value["slept"] == 0
    assert len(value["echoed"]) == 5
    upstream = {t.key: t.upstream for t in run.tasks}
    assert upstream["sleep-0"] == upstream["templated-0"] == ["print_date-0"]


def test_taskflow_etl(runner: Runner) -> None:
    assert runner.run(fa.taskflow_etl, {}).result() == "Total order value is: 1236.70"


def test_mapping(runner: Runner) -> None:
    run = runner.run(fa.mapping, {"items": [1, 2, 3]})
    assert run.result() == 9
    assert sorted(t.key for t in run.tasks if t.name == "add_one") == [
        "add_one-0[0]",
        "add_one-0[1]",
        "add_one-0[2]",
    ]


@pytest.mark.parametrize(("day", "kind"), [(2, "weekday"), (6, "weekend")])
def test_branching(runner: Runner, day: int, kind: str) -> None:
    run = runner.run(fa.branching, {"day_of_week": day})
    assert run.result() == f"{kind} report"
    assert [t.name for t in run.tasks] == ["choose_kind", "report"]  # one branch only


@pytest.mark.parametrize("fail", [False, True])
def test_setup_teardown(runner: Runner, fail: bool) -> None:
    run = runner.run(fa.setup_teardown, {"fail": fail})
    assert run.state == ("FAILED" if fail else "SUCCEEDED")
    states = {t.key: str(t.state) for t in run.tasks}
    assert states["analysis.delete_cluster-0"] == "SUCCEEDED"  # deleted either way
    assert states["analysis.run_query-0"] == ("FAILED" if fail else "SUCCEEDED")


def test_assets(runner: Runner) -> None:
    run = runner.run(fa.produce_orders, {})
    assert run.state == "SUCCEEDED"
    assert fa.consume_orders.options.triggers  # scheduled on the asset
    assert runner.run(fa.consume_orders, {}).result() == "consumed for manual"


def test_params(runner: Runner) -> None:
    from pauta.core.errors import ParameterError

    assert runner.run(fa.params_example, {"rows": 5, "mode": "full"}).result() == {
        "rows": 5,
        "mode": "full",
        "notify": False,
    }
    with pytest.raises(ParameterError, match="rows"):
        fa.params_example.parameters.validate_input({"rows": 0})
    schema = fa.params_example.parameters.json_schema()
    assert schema["properties"]["rows"]["description"] == "How many rows to read"


def test_the_page_shows_every_example() -> None:
    text = DOC.read_text()
    for name in ("tutorial", "taskflow_etl", "mapping", "branching", "setup_teardown",
                 "produce_orders", "consume_orders", "params_example"):  # fmt: skip
        assert f"def {name}(" in text, name
