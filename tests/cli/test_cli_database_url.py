"""The database URL's password never reaches the terminal (or a log that captures it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres


def test_db_upgrade_names_the_database_without_its_password(pg_url: str, tmp_path: Path) -> None:
    user, rest = pg_url.split("://", 1)[1].split("@", 1)
    with_password = f"{pg_url.split('://', 1)[0]}://{user.split(':')[0]}:hunter2-secret@{rest}"
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home"), "PAUTA_DATABASE_URL": with_password}
    done = subprocess.run(
        [sys.executable, "-m", "pauta", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "database at head: " in done.stdout
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert "***" in done.stdout
