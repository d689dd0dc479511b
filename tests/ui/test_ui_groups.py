"""Task groups in a real browser: a flow with nested groups shows each group folded into one
node of the run graph and one column of the flow page's grid, in the worst state of its calls;
the links expand them level by level and collapse them again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from browsing import RUN_TIMEOUT, csrf_of, log_in, wait_for_run_state
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def graph_nodes(page: Page) -> dict[str, dict[str, Any]]:
    data = json.loads(page.locator("#graph-data").text_content() or "{}")
    return {n["id"]: n for n in data["nodes"]}


def test_nested_groups_fold_and_expand(page: Page) -> None:
    log_in(page, "olga")
    answer = page.request.post(
        "/api/v1/flows/grouped/runs", data={"params": {}}, headers={"X-CSRF-Token": csrf_of(page)}
    )
    assert answer.status == 201, answer.text()
    run_id = answer.json()["id"]
    page.goto(f"/runs/{run_id}")
    wait_for_run_state(page, "FAILED", timeout=RUN_TIMEOUT)

    # folded: one node for train (with forest inside), failed because a call inside failed
    nodes = graph_nodes(page)
    assert set(nodes) == {"prepare-0", "group:train", "evaluate-0", "load-0"}
    assert nodes["group:train"]["state"] == "FAILED"
    assert "3 calls" in nodes["group:train"]["label"]
    expect(page.locator("#graph canvas").first).to_be_visible()
    train = page.locator("#task-groups li[data-group=train]")
    expect(train).to_have_attribute("data-state", "FAILED")
    expect(train).to_have_attribute("data-open", "0")
    expect(page.locator("#task-groups li[data-group='train.forest']")).to_have_count(0)
    # the task table still lists every call
    expect(page.locator("#tasks tbody tr")).to_have_count(6)

    train.locator("a.toggle").click()
    expect(page.locator("#task-groups li[data-group=train]")).to_have_attribute("data-open", "1")
    forest = page.locator("#task-groups li[data-group='train.forest']")
    expect(forest).to_have_attribute("data-open", "0")
    expect(forest).to_have_attribute("data-state", "FAILED")
    nodes = graph_nodes(page)
    assert {"train.fit-0", "group:train.forest"} <= set(nodes)
    assert "group:train" not in nodes
    assert nodes["train.fit-0"]["state"] == "SUCCEEDED"

    forest.locator("a.toggle").click()
    nodes = graph_nodes(page)
    assert nodes["train.forest.fit-0"]["state"] == "FAILED"
    assert nodes["train.forest.fit-1"]["state"] == "SUCCEEDED"
    assert not any(key.startswith("group:") for key in nodes)
    assert "groups=train%2Ctrain.forest" in page.url

    # collapsing train folds everything inside it again
    page.locator("#task-groups li[data-group=train] a.toggle").click()
    assert set(graph_nodes(page)) == {"prepare-0", "group:train", "evaluate-0", "load-0"}

    # the flow page's grid: one column for the group, expanded by its header's link
    page.goto("/flows/grouped")
    header = page.locator("#run-grid th[data-key='group:train']")
    expect(header).to_contain_text("train")
    cell = page.locator("#run-grid td a.square.folded").first
    expect(cell).to_have_attribute("data-state", "FAILED")
    expect(page.locator("#run-grid th[data-key='train.fit-0']")).to_have_count(0)
    header.locator("a").click()
    expect(page.locator("#run-grid th[data-key='train.fit-0']")).to_have_count(1)
    expect(page.locator("#run-grid th[data-key='group:train.forest']")).to_have_count(1)
    expect(page.locator("#run-grid th[data-key='group:train']")).to_have_count(0)
    page.locator("#run-grid th[data-key='group:train.forest'] a").click()
    expect(page.locator("#run-grid th[data-key='train.forest.fit-0']")).to_have_count(1)
    expect(page.locator("#task-groups li[data-group='train.forest']")).to_have_attribute(
        "data-open", "1"
    )
