"""The engine stays readable: no module grows past what one person can hold in mind."""

from __future__ import annotations

from pathlib import Path

import pauta.engine

MAX_LINES = 500


def test_no_engine_module_is_longer_than_500_lines() -> None:
    folder = Path(pauta.engine.__file__).parent
    long = {
        path.name: n
        for path in sorted(folder.glob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these engine modules (lines): {long}"
