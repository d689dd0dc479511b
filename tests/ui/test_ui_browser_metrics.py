"""Metrics, compare and a map of 5,000 calls in a real browser: headless Chromium against a
real `pauta server` whose store the tests fill directly (as a long history would)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from browsing import log_in
from playwright.sync_api import Page, expect
from ui_seed import MODELS, accuracy_of, seed_mapped_run, seed_metric_history
from ui_server import Server

from pauta.core.settings import Settings
from pauta.store.repository import Store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WEEKS = 10
MAPPED = "wide000000005000"
LIVE = "wide0000000live0"
# securitypolicyviolation events, kept by the page itself (init scripts run before the page's)
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def seeded(server: Server) -> list[str]:
    """Ten weeks of `history` runs with metrics, and a run of `wide` that mapped 5,000 calls."""
    store = Store(Settings.from_env(server.home).database_url)
    try:
        ids = seed_metric_history(store, "history", WEEKS, loss_steps=40)
        seed_mapped_run(store, 5000, run_id=MAPPED, flow="wide", state="FAILED", failed_every=500)
        seed_mapped_run(store, 300, run_id=LIVE, flow="wide", state="RUNNING")
    finally:
        store.close()
    return ids


def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/img with PAUTA_UPDATE_SCREENSHOTS=1, else a temporary folder."""
    return ROOT / "docs" / "img" if os.environ.get("PAUTA_UPDATE_SCREENSHOTS") else tmp_path


def test_metrics_over_the_weeks_and_two_runs_compared(
    page: Page, seeded: list[str], tmp_path: Path
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    log_in(page, "vera")
    page.goto("/flows/history")
    accuracy = page.locator("#flow-charts figure[data-metric=accuracy]")
    lines = accuracy.locator("g.series")
    expect(lines).to_have_count(2)
    for line, model in zip(lines.all(), MODELS, strict=True):
        assert line.get_attribute("data-series") == f"train[{model}]"
        values = line.locator("circle").evaluate_all(
            "(cs) => cs.map((c) => Number(c.dataset.value))"
        )
        assert values == [accuracy_of(model, week) for week in range(WEEKS)]
    polyline = lines.first.locator("polyline").bounding_box()
    assert polyline is not None
    assert polyline["width"] > 300  # drawn across the chart
    expect(accuracy.locator(".chart-legend li")).to_have_text(["train[logreg]", "train[forest]"])
    expect(page.locator("#flow-charts figure[data-metric=loss]")).to_be_visible()
    page.locator("#flow-metrics").screenshot(path=str(shots(tmp_path) / "metrics-flow.png"))
    # a point opens its run, whose page charts the run's metrics
    lines.first.locator(f"a[href='/runs/{seeded[-1]}']").click()
    expect(page).to_have_url(re.compile(f"/runs/{seeded[-1]}$"))
    expect(page.locator("#metric-charts figure[data-metric=accuracy] g.bar-row")).to_have_count(2)
    curves = page.locator("#metric-charts figure[data-metric=loss][data-kind=lines] g.series")
    expect(curves).to_have_count(2)
    expect(curves.first.locator("circle")).to_have_count(40)
    page.locator("#metrics").screenshot(path=str(shots(tmp_path) / "metrics-run.png"))

    # two runs ticked in the flow's runs list
    page.goto("/runs?flow=history")
    page.check(f"#runs input[value={seeded[-2]}]")
    page.check(f"#runs input[value={seeded[-1]}]")
    page.click("#compare-runs")
    expect(page).to_have_url(re.compile(r"/compare\?run=\w+&run=\w+$"))
    expect(page.locator("#compare-params tr.differs")).to_have_count(1)
    forest = page.locator("#compare-metrics tr[data-task='train[forest]'][data-metric=accuracy]")
    expect(forest).to_have_class("differs")
    expect(page.locator("#compare-tasks tr")).to_have_count(1 + len(MODELS))
    page.screenshot(path=str(shots(tmp_path) / "compare.png"), full_page=True)
    assert page.evaluate("() => window.__violations") == []


def test_a_map_of_5000_calls_is_one_collapsed_node(
    page: Page, seeded: list[str], tmp_path: Path
) -> None:
    log_in(page, "vera")
    started = time.perf_counter()
    page.goto(f"/runs/{MAPPED}")
    expect(page.locator("#graph canvas").first).to_be_visible()
    drawn = time.perf_counter() - started
    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType("navigation")[0];
                   return {html: n.responseEnd - n.requestStart, load: n.loadEventEnd,
                           bytes: n.encodedBodySize, height: document.body.scrollHeight}; }"""
    )
    print(f"run page of 5,000 mapped calls: {timing}, graph drawn after {drawn:.2f}s")
    nodes = page.evaluate(
        "() => JSON.parse(document.getElementById('graph-data').textContent).nodes"
    )
    assert [(n["id"], n.get("map", False)) for n in nodes] == [
        ("load-0", False),
        ("process-0", True),
        ("reduce-0", False),
    ]
    expect(page.locator("#maps li")).to_have_text(
        re.compile(r"process-0 \u00d75,000\s+4,990 succeeded \u00b7 10 failed")
    )
    expect(page.locator("#tasks tbody tr")).to_have_count(100)
    expect(page.locator("#gantt .gantt-row")).to_have_count(3)
    # generous bounds for a shared 2-core machine (measured: see docs/ui.md)
    assert timing["load"] < 10_000, timing
    assert timing["bytes"] < 200_000, timing
    page.screenshot(path=str(shots(tmp_path) / "mapped.png"))
    # the collapsed node is the middle one: a click on it pages through its calls
    page.locator("#graph").click()
    expect(page).to_have_url(re.compile(r"\?map=process-0#tasks$"))
    expect(page.locator("#task-panel h2")).to_contain_text("the calls of process-0 \u00d75,000")
    expect(page.locator("#tasks tbody tr").first).to_have_attribute("data-key", "process-0[0]")
    page.click("#task-states a[data-state=FAILED]")
    expect(page.locator("#tasks tbody tr")).to_have_count(10)
    expect(page.locator("#tasks tbody tr[data-state=FAILED]")).to_have_count(10)


def test_the_task_table_keeps_its_scroll_while_the_run_is_live(
    page: Page, seeded: list[str]
) -> None:
    log_in(page, "vera")
    page.goto(f"/runs/{LIVE}")
    box = page.locator(".task-scroll")
    expect(page.locator("#tasks tbody tr")).to_have_count(100)
    box.evaluate("(el) => { el.scrollTop = 600; el.dataset.before = '1'; }")
    # the next poll swaps in a new table (without the mark), scrolled where the old one was
    page.wait_for_function("() => !document.querySelector('.task-scroll').dataset.before")
    assert box.evaluate("(el) => el.scrollTop") == pytest.approx(600, abs=2)
