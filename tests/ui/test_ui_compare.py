"""The compare page over HTTP: two runs of one flow side by side, reached from the runs list's
checkboxes or a run's page, and what it says when the two cannot be compared."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ui_pages import assert_strict, log_in, page_client
from ui_seed import accuracy_of, seed_metric_history, seed_runs

from pauta.store.repository import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


@pytest.fixture
def client(sqlite_store: Store, home: Path, tmp_path: Path) -> Iterator[TestClient]:
    with page_client(sqlite_store, tmp_path) as opened:
        log_in(opened, "vera")  # a viewer may compare: it changes nothing
        yield opened


def row(page: str, table: str, **data: str) -> str:
    """The row of table ``#table`` with these data- attributes."""
    found = re.search(rf'<table class="list compare" id="{table}">.*?</table>', page, flags=re.S)
    assert found, table
    attributes = "".join(rf' data-{k}="{re.escape(v)}"' for k, v in data.items())
    matched = re.search(rf'<tr class="[^"]*"{attributes}>.*?</tr>', found.group(0), flags=re.S)
    assert matched, (table, data)
    return matched.group(0)


def test_two_runs_side_by_side_with_their_differences(
    client: TestClient, sqlite_store: Store
) -> None:
    a, b = seed_metric_history(sqlite_store, "simple", 2)
    answer = client.get(f"/compare?run={a}&run={b}")
    assert answer.status_code == 200
    assert_strict(answer)
    page = answer.text
    assert f'<a class="mono" href="/runs/{a}" id="run-a">{a}</a>' in page
    assert f'<a class="mono" href="/runs/{b}" id="run-b">{b}</a>' in page
    week = row(page, "compare-params", name="week")
    assert week.startswith('<tr class="differs"')
    assert ">0</td><td>1</td>" in week.replace("<code>", "").replace("</code>", "")
    assert "+1" in week
    forest = row(page, "compare-metrics", task="train[forest]", metric="accuracy")
    assert forest.startswith('<tr class="differs"')
    assert (
        f'{accuracy_of("forest", 0):.6g}</td><td class="num">{accuracy_of("forest", 1):.6g}'
        in forest
    )
    assert "-0.002" in forest  # B - A
    task = row(page, "compare-tasks", task="train[logreg]")
    assert task.startswith('<tr class=""')  # the same state in both
    assert "20.0s" in task
    duration = re.search(r'<tr id="compare-duration">.*?</tr>', page, flags=re.S)
    assert duration
    assert "40.0s" in duration.group(0)
    assert "41.0s" in duration.group(0)
    assert "+1.00s" in duration.group(0)
    assert "1 of 1 differ" in page
    # A is the older run, in whichever order they came (the runs list lists newest first)
    reordered = client.get(f"/compare?run={b}&run={a}").text
    assert "-0.002" in row(reordered, "compare-metrics", task="train[forest]", metric="accuracy")
    assert f'href="/compare?run={b}&amp;run={a}&amp;keep=true" id="swap"' in page
    # swapped on purpose: the deltas change sign
    swapped = client.get(f"/compare?run={b}&run={a}&keep=true").text
    assert "+0.002" in row(swapped, "compare-metrics", task="train[forest]", metric="accuracy")
    assert f'<a class="mono" href="/runs/{b}" id="run-a">' in swapped


def test_the_runs_list_and_the_run_page_lead_to_the_compare_page(
    client: TestClient, sqlite_store: Store
) -> None:
    ids = seed_metric_history(sqlite_store, "simple", 3)
    seed_runs(sqlite_store, ["other"], 1, tasks=False)
    listed = client.get("/runs?flow=simple").text
    assert '<form method="get" action="/compare" id="compare-form">' in listed
    for run_id in ids:
        assert f'<input type="checkbox" name="run" value="{run_id}"' in listed
    assert 'id="compare-runs"' in listed
    page = client.get(f"/runs/{ids[-1]}").text
    form = re.search(r'<form method="get" action="/compare".*?</form>', page, flags=re.S)
    assert form
    offered = re.findall(r'<option value="(\w+)">', form.group(0))
    assert offered == [ids[1], ids[0]]  # the flow's other runs, newest first
    assert f'<input type="hidden" name="run" value="{ids[-1]}">' in form.group(0)
    assert "seed" not in form.group(0)  # not another flow's runs


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, "Choose two runs to compare (0 chosen)"),
        ("run=week000000000000", 400, "Choose two runs to compare (1 chosen)"),
        (
            "run=week000000000000&run=week000000000001&run=week000000000000",
            400,
            "(3 chosen)",
        ),
        ("run=week000000000000&run=week000000000000", 400, "give two runs"),
        (
            "run=week000000000000&run=seed000000000000",
            400,
            "run week000000000000 is a run of flow &#39;simple&#39; and run seed000000000000 of "
            "flow &#39;other&#39;: only runs of one flow can be compared",
        ),
        (
            "run=week000000000000&run=nosuchrun",
            404,
            "no run with id or id prefix &#39;nosuchrun&#39;",
        ),
    ],
)
def test_runs_that_cannot_be_compared_are_said_so(
    client: TestClient, sqlite_store: Store, query: str, status: int, message: str
) -> None:
    seed_metric_history(sqlite_store, "simple", 2)
    seed_runs(sqlite_store, ["other"], 1, tasks=False)
    answer = client.get(f"/compare?{query}")
    assert answer.status_code == status
    assert_strict(answer)
    assert message in answer.text
    assert 'class="topbar"' in answer.text


def test_a_crafted_run_id_is_shown_escaped(client: TestClient, sqlite_store: Store) -> None:
    (run,) = seed_metric_history(sqlite_store, "simple", 1)
    payload = "<img src=x onerror=alert(1)>"
    answer = client.get("/compare", params={"run": [run, payload]})
    assert answer.status_code == 404
    assert payload not in answer.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer.text


def test_the_compare_page_needs_a_session(sqlite_store: Store, home: Path, tmp_path: Path) -> None:
    with page_client(sqlite_store, tmp_path) as anonymous:
        answer = anonymous.get("/compare?run=a&run=b", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/compare")
