"""Mapped calls at scale over HTTP: a map is one node of the graph and one row of the
timeline, one column of the flow's grid; the run page pages its task table (by state, by map)
and stays fast with 10,000 calls."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ui_pages import assert_strict, log_in, page_client
from ui_seed import seed_mapped_run

from pauta.store.repository import Store

RUN = "mapped0000000000"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


def client_on(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with page_client(store, tmp_path) as opened:
        log_in(opened, "vera")
        yield opened


@pytest.fixture
def client(sqlite_store: Store, home: Path, tmp_path: Path) -> Iterator[TestClient]:
    yield from client_on(sqlite_store, tmp_path)


def graph_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page)
    assert found
    return json.loads(found.group(1))


def task_rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-key="([^"]+)" data-state="([^"]+)">', page)


def test_a_map_of_5000_calls_is_one_node_and_one_timeline_row(
    client: TestClient, sqlite_store: Store
) -> None:
    seed_mapped_run(sqlite_store, 5000, state="FAILED", failed_every=500)
    answer = client.get(f"/runs/{RUN}")
    assert answer.status_code == 200
    assert_strict(answer)
    page = answer.text
    graph = graph_of(page)
    assert [n["id"] for n in graph["nodes"]] == ["load-0", "process-0", "reduce-0"]
    node = graph["nodes"][1]
    assert node["map"] is True
    assert node["state"] == "FAILED"
    assert node["label"] == "process-0 \u00d75,000\n4,990 succeeded \u00b7 10 failed"
    assert graph["edges"] == [
        {"source": "load-0", "target": "process-0"},
        {"source": "process-0", "target": "reduce-0"},
    ]
    assert graph["total"] == 5002
    # below the graph, the way to its calls (the node's click goes there too)
    assert f'href="/runs/{RUN}?map=process-0#tasks">its calls</a>' in page
    assert f'data-map-url="/runs/{RUN}?map=__MAP__#tasks"' in page
    rows = re.findall(r'<div class="label mono" title="([^"]+)">([^<]+)</div>', page)
    assert rows == [
        ("load-0", "load-0"),
        ("process-0", "process-0 \u00d75,000"),
        ("reduce-0", "reduce-0"),
    ]
    assert len(page) < 200_000  # 5,000 calls no longer make a page of megabytes


def test_the_task_table_pages_100_calls_at_a_time(client: TestClient, sqlite_store: Store) -> None:
    seed_mapped_run(sqlite_store, 5000, state="FAILED", failed_every=500)
    page = client.get(f"/runs/{RUN}").text
    rows = task_rows(page)
    assert len(rows) == 100
    assert rows[:2] == [("load-0", "SUCCEEDED"), ("process-0[0]", "SUCCEEDED")]
    assert "calls 1\u2013100 of 5,002 \u00b7 page 1 of 51" in page
    assert f'href="/runs/{RUN}?task_page=2#tasks">Next' in page
    # the state filter counts every call, and links to each state
    assert (
        f'href="/runs/{RUN}?task_state=FAILED#tasks" class="" data-state="FAILED">FAILED 10' in page
    )
    assert ">all 5,002</a>" in page

    last = client.get(f"/runs/{RUN}?task_page=51").text
    assert [k for k, _ in task_rows(last)] == ["process-0[4999]", "reduce-0"]
    assert "Next" not in last
    assert "Previous" in last
    beyond = client.get(f"/runs/{RUN}?task_page=999").text  # the last page, not an empty one
    assert task_rows(beyond) == task_rows(last)

    failed = client.get(f"/runs/{RUN}?task_state=failed").text
    assert task_rows(failed) == [(f"process-0[{i}]", "FAILED") for i in range(499, 5000, 500)]
    assert 'class="active" data-state="FAILED"' in failed
    assert "task-pager" not in failed  # one page

    items = client.get(f"/runs/{RUN}?map=process-0&task_page=50").text
    assert [k for k, _ in task_rows(items)] == [f"process-0[{i}]" for i in range(4900, 5000)]
    assert "of 5,000 \u00b7 page 50 of 50" in items
    assert 'the calls of <span class="mono">process-0 \u00d75,000</span>' in items
    assert f'href="/runs/{RUN}?map=process-0&amp;task_page=49#tasks">' in items

    unknown = client.get(f"/runs/{RUN}?task_state=NOPE").text
    assert len(task_rows(unknown)) == 100  # an unknown state filters nothing
    for bad in ("task_page=0", "task_page=many", "task_page=100001"):
        assert client.get(f"/runs/{RUN}?{bad}").status_code == 422, bad


def test_the_live_fragment_keeps_the_table_s_selection(
    client: TestClient, sqlite_store: Store
) -> None:
    seed_mapped_run(sqlite_store, 300, state="RUNNING", failed_every=50)
    page = client.get(f"/runs/{RUN}?task_state=FAILED&map=process-0").text
    assert f'hx-get="/runs/{RUN}/live?task_state=FAILED&amp;map=process-0"' in page
    live = client.get(f"/runs/{RUN}/live?task_state=FAILED&map=process-0")
    assert_strict(live)
    assert [k for k, _ in task_rows(live.text)] == [f"process-0[{i}]" for i in range(49, 300, 50)]
    assert 'hx-trigger="every 1s"' in live.text


def test_the_flow_grid_folds_a_map_into_one_column(client: TestClient, sqlite_store: Store) -> None:
    seed_mapped_run(sqlite_store, 40, run_id="mapped0000000001", failed_every=20)
    seed_mapped_run(sqlite_store, 60, run_id="mapped0000000002")
    page = client.get("/flows/simple").text
    found = re.search(r'<table class="grid" id="run-grid">.*?</table>', page, flags=re.S)
    assert found
    grid = found.group(0)
    headers = re.findall(r'<th class="task( mapped)?" title="[^"]*" data-key="([^"]+)">', grid)
    assert headers == [("", "load-0"), (" mapped", "process-0"), ("", "reduce-0")]
    assert "process-0[1]" not in grid
    assert 'title="process-0: 40 calls: 38 succeeded \u00b7 2 failed"' in page
    assert 'title="process-0: 60 calls: 60 succeeded"' in page
    assert 'href="/runs/mapped0000000001?map=process-0#tasks"' in page
    graph = graph_of(page)  # the latest run's graph, folded too
    assert [n["id"] for n in graph["nodes"]] == ["load-0", "process-0", "reduce-0"]


@pytest.mark.slow
def test_the_run_page_stays_fast_with_10000_calls(store: Store, home: Path, tmp_path: Path) -> None:
    seed_mapped_run(store, 10_000, state="RUNNING", failed_every=1000)
    timings: dict[str, float] = {}
    for client in client_on(store, tmp_path):
        for path in (
            f"/runs/{RUN}",
            f"/runs/{RUN}/live",
            f"/runs/{RUN}?task_state=FAILED",
            f"/runs/{RUN}?map=process-0&task_page=100",
        ):
            client.get(path)  # warm: the first request also compiles the templates
            started = time.perf_counter()
            answer = client.get(path)
            timings[path] = time.perf_counter() - started
            assert answer.status_code == 200
            assert len(answer.content) < 200_000, (path, len(answer.content))
    # generous bounds for a shared 2-core machine; measured ~0.1 s on SQLite, see docs/ui.md
    assert max(timings.values()) < 2.0, timings
