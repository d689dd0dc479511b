"""`pauta logs` as a user runs it: real subprocesses, real SQLite under PAUTA_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWS = Path(__file__).parent / "log_flows.py"


def pauta(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=home.parent,
    )


def sections(text: str) -> dict[str, str]:
    """The output of `pauta logs` by section header (`── speak-0 · attempt 1 ──`)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("── "):
            current = line.strip("─ ")
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def test_an_attempt_that_printed_nothing_says_no_output(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = pauta(home, "run", f"{FLOWS}:speaks_and_hushes", "--json")
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["id"]

    shown = sections(pauta(home, "logs", run_id).stdout)
    assert shown["speak-0 · attempt 1"].strip() == "hello from speak"
    assert shown["hush-0 · attempt 1"].strip() == "(no output)"

    # a log that existed and was deleted is still reported as removed
    for log in (home / "logs" / run_id).glob("speak-0.*.log"):
        log.unlink()
    shown = sections(pauta(home, "logs", run_id).stdout)
    assert shown["speak-0 · attempt 1"].strip() == "(log removed)"
    assert shown["hush-0 · attempt 1"].strip() == "(no output)"
