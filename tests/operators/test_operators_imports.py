"""Importing pauta, or the operators, brings none of the data libraries: SQLAlchemy, pyarrow,
fsspec and the drivers load only when an operator runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HEAVY = ("sqlalchemy", "pyarrow", "fsspec", "pymysql", "psycopg", "s3fs", "urllib.request")


def test_importing_the_operators_imports_no_data_library() -> None:
    script = textwrap.dedent(
        f"""
        import sys

        import pauta
        assert "pauta.operators" not in sys.modules, "import pauta imports the operators"
        from pauta.operators import copy, http, shell, sql, transfer, sql_to_parquet
        loaded = [name for name in {HEAVY!r} if name in sys.modules]
        assert not loaded, f"importing pauta.operators imported {{loaded}}"
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
