"""Take the screenshots of the README and docs/ui.md again: login, flows, flow and run pages.

Run it from the repository root with ``.venv/bin/python docs/img/capture.py``. It runs the
browser test that triggers the example pipeline from the web UI (a real `pauta server` and
headless Chromium) and lets it write its screenshots here instead of a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/ui/test_ui_browser.py::test_trigger_the_example_from_the_form_and_watch_it_finish"


def main() -> int:
    env = {**os.environ, "PAUTA_UPDATE_SCREENSHOTS": "1"}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", TEST], cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
