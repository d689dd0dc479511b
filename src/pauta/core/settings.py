"""Where pauta keeps its state, read from the environment.

The pauta home holds the SQLite database, results, logs and the virtualenvs of venv tasks
(``envs/``, or ``PAUTA_ENVS_DIR``). It is ``PAUTA_HOME`` when set, else the first ``.pauta``
folder found in the current folder or its parents (like git), else ``./.pauta``, created on
first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_DIRNAME = ".pauta"
DEFAULT_INLINE_RESULT_MAX = 64 * 1024


def find_home(cwd: Path | None = None) -> Path:
    """The pauta home folder (not created here)."""
    env = os.environ.get("PAUTA_HOME")
    if env:
        return Path(env).expanduser().absolute()
    start = (cwd or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        candidate = folder / HOME_DIRNAME
        if candidate.is_dir():
            return candidate
    return start / HOME_DIRNAME


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings every command and process agrees on."""

    home: Path
    database_url: str
    results_url: str
    logs_dir: Path
    inline_result_max: int
    sqlite_synchronous: str
    envs_dir: Path

    @classmethod
    def from_env(cls, home: Path | None = None) -> Settings:
        home = home or find_home()
        database_url = os.environ.get("PAUTA_DATABASE_URL") or f"sqlite:///{home / 'pauta.db'}"
        results_url = os.environ.get("PAUTA_RESULTS_URL") or str(home / "results")
        inline_max = int(os.environ.get("PAUTA_INLINE_RESULT_MAX", DEFAULT_INLINE_RESULT_MAX))
        synchronous = os.environ.get("PAUTA_SQLITE_SYNCHRONOUS", "NORMAL").upper()
        # virtualenvs of venv tasks; shared by several homes when PAUTA_ENVS_DIR says so
        envs_dir = Path(os.environ.get("PAUTA_ENVS_DIR") or home / "envs").expanduser().absolute()
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(
                f"PAUTA_SQLITE_SYNCHRONOUS={synchronous!r} is not one of OFF, NORMAL, FULL, EXTRA"
            )
        return cls(
            home=home,
            database_url=database_url,
            results_url=results_url,
            logs_dir=home / "logs",
            inline_result_max=inline_max,
            sqlite_synchronous=synchronous,
            envs_dir=envs_dir,
        )

    def export_home(self) -> None:
        """Make ``PAUTA_HOME`` name this home when it names none, so that worker processes
        (and the tasks in them: ``pauta.secret``, files under the home) agree on it."""
        os.environ.setdefault("PAUTA_HOME", str(self.home))

    def ensure_home(self) -> None:
        """Create the home, logs and local results folders when missing."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
