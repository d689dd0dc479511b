"""The metric charts over HTTP: the run page's bars and curves, the flow page's metrics over
runs, their live updates, and the escaping of what tasks named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from ui_pages import assert_strict, log_in, page_client
from ui_seed import MODELS, accuracy_of, seed_metric_history

from pauta.store.repository import Store
from pauta.store.tables import flow_runs, metrics, task_runs

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


@pytest.fixture
def client(sqlite_store: Store, home: Path, tmp_path: Path) -> Iterator[TestClient]:
    with page_client(sqlite_store, tmp_path) as opened:
        log_in(opened, "vera")
        yield opened


def figure(page: str, metric: str, kind: str) -> str:
    """The chart of ``metric`` (``bars`` or ``lines``) in the page."""
    found = re.search(
        rf'<figure class="chart" data-metric="{re.escape(metric)}" data-kind="{kind}">.*?</figure>',
        page,
        flags=re.S,
    )
    assert found, (metric, kind)
    return found.group(0)


def series_values(chart: str) -> dict[str, list[float]]:
    """The values each series (a bar row or a line) of a chart draws, by its name."""
    found: dict[str, list[float]] = {}
    for name, body in re.findall(
        r'<g class="(?:bar-row|series c\d)" data-series="([^"]*)"[^>]*>(.*?)</g>', chart, re.S
    ):
        values = re.findall(r'data-value="([^"]+)"', body)
        found[name] = [float(v) for v in values]
    for name, value in re.findall(
        r'class="bar-row" data-series="([^"]*)"[^>]*data-value="([^"]+)"', chart
    ):
        found[name] = [float(value)]
    return found


def test_the_run_page_charts_each_metric(client: TestClient, sqlite_store: Store) -> None:
    ids = seed_metric_history(sqlite_store, "simple", 3, loss_steps=5)
    answer = client.get(f"/runs/{ids[-1]}")
    assert answer.status_code == 200
    assert_strict(answer)
    page = answer.text
    bars = figure(page, "accuracy", "bars")
    assert series_values(bars) == {f"train[{m}]": [accuracy_of(m, 2)] for m in MODELS}
    assert "<title>train[logreg]: accuracy = 0.796 (train-0)</title>" in bars
    assert bars.count('<rect class="bar c') == 2
    assert re.search(r'<text class="tick"[^>]*>0\.00</text>', bars)  # an axis with ticks
    curves = figure(page, "loss", "lines")
    drawn = series_values(curves)
    assert list(drawn) == ["train[logreg]", "train[forest]"]
    assert drawn["train[logreg]"] == pytest.approx([1 / (s + 1) for s in range(5)])
    assert curves.count("<polyline") == 2
    assert "<title>train[forest] \u00b7 step 4: loss = 0.34</title>" in curves
    assert '<ul class="chart-legend">' in curves  # a legend names the lines
    assert "by step" in curves


def test_the_charts_follow_a_live_run(client: TestClient, sqlite_store: Store) -> None:
    (run,) = seed_metric_history(sqlite_store, "simple", 1)
    with sqlite_store.engine.begin() as conn:
        conn.execute(flow_runs.update().where(flow_runs.c.id == run).values(state="RUNNING"))
    live = client.get(f"/runs/{run}/live").text
    assert 'hx-trigger="every 1s"' in live
    assert len(series_values(figure(live, "accuracy", "bars"))) == 2
    # a value logged since: the next poll draws it
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            sa.insert(metrics),
            [{"flow_run_id": run, "key": "train-0", "attempt": 1, "name": "f1", "value": 0.5,
              "step": None, "logged_at": datetime.now(UTC)}],
        )  # fmt: skip
    later = client.get(f"/runs/{run}/live").text
    assert series_values(figure(later, "f1", "bars")) == {"train[logreg]": [0.5]}


def test_the_flow_page_charts_each_metric_over_the_runs(
    client: TestClient, sqlite_store: Store
) -> None:
    ids = seed_metric_history(sqlite_store, "simple", 5)
    answer = client.get("/flows/simple")
    assert_strict(answer)
    chart = figure(answer.text, "accuracy", "lines")
    assert series_values(chart) == {
        f"train[{m}]": [accuracy_of(m, week) for week in range(5)] for m in MODELS
    }
    links = re.findall(r'<a href="/runs/(\w+)"><circle', chart)
    assert links == ids + ids  # each point opens its run, oldest first, line by line
    assert "2026-09-07 (run week000000000000): accuracy = 0.8</title>" in chart
    assert re.search(r'<text class="tick"[^>]*>2026-09-07</text>', chart)
    assert "Metrics over the last 20 runs" in answer.text
    assert 'id="flow-metrics" hx-get' not in answer.text  # nothing live: no polling
    two = client.get("/flows/simple/metrics?runs=2")
    assert two.status_code == 200
    assert_strict(two)
    assert series_values(figure(two.text, "accuracy", "lines"))["train[forest]"] == [
        accuracy_of("forest", 3),
        accuracy_of("forest", 4),
    ]
    assert client.get("/flows/simple?runs=2").text.count("<circle") == 4
    assert client.get("/flows/simple/metrics?runs=0").status_code == 422


def test_the_flow_charts_poll_while_one_of_their_runs_is_active(
    client: TestClient, sqlite_store: Store
) -> None:
    ids = seed_metric_history(sqlite_store, "simple", 2)
    with sqlite_store.engine.begin() as conn:
        conn.execute(flow_runs.update().where(flow_runs.c.id == ids[-1]).values(state="RUNNING"))
    page = client.get("/flows/simple").text
    assert 'hx-get="/flows/simple/metrics?runs=20" hx-trigger="every 5s"' in page
    fragment = client.get("/flows/simple/metrics?runs=20").text
    assert 'hx-trigger="every 5s"' in fragment


def test_a_flow_without_metrics_says_how_to_log_them(client: TestClient) -> None:
    page = client.get("/flows/simple").text
    assert "No metric logged in any run yet" in page
    assert "context().log_metric" in page
    assert "<figure" not in page


def test_names_that_tasks_made_up_are_escaped_in_every_chart(
    client: TestClient, sqlite_store: Store
) -> None:
    ids = seed_metric_history(sqlite_store, "simple", 2, loss_steps=2)
    with sqlite_store.engine.begin() as conn:
        conn.execute(task_runs.update().where(task_runs.c.key == "train-0").values(label=SCRIPT))
        conn.execute(metrics.update().where(metrics.c.name == "accuracy").values(name=IMAGE))
    pages = [
        client.get(f"/runs/{ids[-1]}"),
        client.get(f"/runs/{ids[-1]}/live"),
        client.get("/flows/simple"),
        client.get("/flows/simple/metrics"),
        client.get(f"/compare?run={ids[0]}&run={ids[1]}"),
    ]
    for answer in pages:
        assert answer.status_code == 200, answer.url
        text = answer.text
        assert SCRIPT not in text, answer.url
        assert IMAGE not in text, answer.url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, answer.url
        assert "&lt;img src=x onerror=alert(1)&gt;" in text, answer.url
    run_page = pages[0].text
    chart = figure(run_page, "&lt;img src=x onerror=alert(1)&gt;", "bars")
    assert 'data-series="&lt;script&gt;alert(1)&lt;/script&gt;"' in chart
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;: &lt;img src=x" in chart
    # the graph's JSON cannot close its script element either
    graph = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', run_page)
    assert graph
    assert "\\u003cscript\\u003e" in graph.group(1)


def test_the_charts_of_an_unknown_flow_are_a_plain_404(client: TestClient) -> None:
    answer = client.get(f"/flows/{IMAGE}/metrics")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/plain")  # never parsed as HTML
    assert IMAGE in answer.text
