"""Take the screenshots of the README and docs/ui.md again: login, flows, flow and run pages,
the metric charts, the compare page and a run of 5,000 mapped calls.

Run it from the repository root with ``.venv/bin/python docs/img/capture.py``. It runs the
browser tests that trigger the example pipeline from the web UI and that chart a seeded
history (a real `pauta server` and headless Chromium) and lets them write their screenshots
here instead of a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = [
    "tests/ui/test_ui_browser.py::test_trigger_the_example_from_the_form_and_watch_it_finish",
    "tests/ui/test_ui_browser_metrics.py::test_metrics_over_the_weeks_and_two_runs_compared",
    "tests/ui/test_ui_browser_metrics.py::test_a_map_of_5000_calls_is_one_collapsed_node",
]


def main() -> int:
    env = {**os.environ, "PAUTA_UPDATE_SCREENSHOTS": "1"}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", *TESTS], cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
