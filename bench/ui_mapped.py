"""The run page of a run that mapped a task over many items: server time and load in Chromium.

    .venv/bin/python bench/ui_mapped.py                  # 10,000 calls, 7 times each
    .venv/bin/python bench/ui_mapped.py --calls 5000 --repeat 3

A `pauta server` (SQLite) is started on a fresh home whose store is filled directly, as
``tests/ui/ui_seed.py`` does: a RUNNING run with ``load-0``, ``process-0[0..N-1]`` (one in a
thousand FAILED, each with one attempt and a ``loss`` metric) and ``reduce-0`` waiting on all
of them. Server time is the wall time of a GET over a kept-alive connection (median and
min-max); the browser figures are Chromium's navigation timing of the run page (HTML received,
DOMContentLoaded, load) and the wall time until the graph's canvas is drawn.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))

from ui_seed import seed_mapped_run  # noqa: E402
from ui_server import CHROMIUM, CHROMIUM_ARGS, PASSWORD, running_server  # noqa: E402

from pauta.core.settings import Settings  # noqa: E402
from pauta.store.repository import Store  # noqa: E402

RUN = "mapped0000000000"


def _row(name: str, values: list[float], unit: str = "ms") -> str:
    return (
        f"| {name} | {statistics.median(values):,.0f} | "
        f"{min(values):,.0f}-{max(values):,.0f} | {unit} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as base, running_server(Path(base)) as server:
        store = Store(Settings.from_env(server.home).database_url)
        seed_mapped_run(store, args.calls, state="RUNNING", failed_every=1000)
        store.close()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
            page.goto("/login")
            page.fill("#username", "vera")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/")
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())

            host, port = server.url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port))
            paths = {
                "run page": f"/runs/{RUN}",
                "live fragment (polled every second)": f"/runs/{RUN}/live",
                "run page, FAILED calls only": f"/runs/{RUN}?task_state=FAILED",
                "run page, the map's last page": f"/runs/{RUN}?map=process-0&task_page=100",
            }
            print(f"{args.calls:,} mapped calls, {args.repeat} requests each\n")
            print("| server time | median | min-max | |\n|---|---:|---:|---|")
            sizes = {}
            for name, path in paths.items():
                times = []
                for _ in range(args.repeat + 1):
                    started = time.perf_counter()
                    conn.request("GET", path, headers={"Cookie": cookie})
                    reply = conn.getresponse()
                    body = reply.read()
                    times.append((time.perf_counter() - started) * 1000)
                    assert reply.status == 200, (path, reply.status)
                sizes[name] = len(body)
                print(_row(name, times[1:]))  # the first warms the templates
            print()
            for name, size in sizes.items():
                print(f"- {name}: {size / 1024:,.0f} KiB of HTML")

            html, ready, loaded, drawn = [], [], [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                page.goto(f"/runs/{RUN}")
                page.locator("#graph canvas").first.wait_for()
                drawn.append((time.perf_counter() - started) * 1000)
                timing = page.evaluate(
                    """() => { const n = performance.getEntriesByType("navigation")[0];
                      return [n.responseEnd - n.requestStart, n.domContentLoadedEventEnd,
                              n.loadEventEnd, document.body.scrollHeight]; }"""
                )
                html.append(timing[0])
                ready.append(timing[1])
                loaded.append(timing[2])
                height = timing[3]
            print("\n| Chromium, run page | median | min-max | |\n|---|---:|---:|---|")
            print(_row("HTML received (from the request)", html))
            print(_row("DOMContentLoaded", ready))
            print(_row("load", loaded))
            print(_row("graph drawn (wall, from goto)", drawn))
            print(f"\npage height: {height:,} px")
            browser.close()


if __name__ == "__main__":
    main()
