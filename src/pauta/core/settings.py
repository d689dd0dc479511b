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

from pauta.core.files import make_private_dirs

HOME_DIRNAME = ".pauta"
DEFAULT_INLINE_RESULT_MAX = 64 * 1024
DEFAULT_MAX_CHILD_FLOW_DEPTH = 32
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
"""The largest request body the server reads from a caller with valid credentials."""
DEFAULT_MAX_PARAMS_BYTES = 64 * 1024
"""The largest run parameters, as JSON: large data goes by reference (a path or URI)."""
DEFAULT_MLFLOW_RETRY_SECONDS = 5.0


def mlflow_tracking_uri() -> str | None:
    """``PAUTA_MLFLOW_TRACKING_URI``: where runs are mirrored, or None (no mirroring)."""
    return os.environ.get("PAUTA_MLFLOW_TRACKING_URI", "").strip() or None


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name}={text!r} must be a positive number of seconds")
    return value


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


def describe_size(n_bytes: int) -> str:
    """A limit in bytes as people write it: ``64 KiB``, ``1 MiB``, ``1500 bytes``."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n_bytes >= size and n_bytes % size == 0:
            return f"{n_bytes // size} {unit}"
    return f"{n_bytes} bytes"


def _size(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} must be a positive number of bytes")
    return value


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
    # how deep child flows may nest: a flow that calls itself with no end fails at this depth
    max_child_flow_depth: int = DEFAULT_MAX_CHILD_FLOW_DEPTH
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_params_bytes: int = DEFAULT_MAX_PARAMS_BYTES
    # the Ray cluster of the ray executor (PAUTA_RAY_ADDRESS; None: Ray's own default)
    ray_address: str | None = None
    # the MLflow server every run is mirrored to (PAUTA_MLFLOW_TRACKING_URI; None: no mirroring)
    mlflow_tracking_uri: str | None = None
    # first wait after MLflow could not be reached; it doubles up to a minute
    mlflow_retry_seconds: float = DEFAULT_MLFLOW_RETRY_SECONDS

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
        depth = os.environ.get("PAUTA_MAX_CHILD_FLOW_DEPTH") or str(DEFAULT_MAX_CHILD_FLOW_DEPTH)
        if not depth.isdigit() or int(depth) < 1:
            raise ValueError(f"PAUTA_MAX_CHILD_FLOW_DEPTH={depth!r} is not a whole number >= 1")
        return cls(
            home=home,
            database_url=database_url,
            results_url=results_url,
            logs_dir=home / "logs",
            inline_result_max=inline_max,
            sqlite_synchronous=synchronous,
            envs_dir=envs_dir,
            max_child_flow_depth=int(depth),
            max_request_bytes=_size("PAUTA_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
            max_params_bytes=_size("PAUTA_MAX_PARAMS_BYTES", DEFAULT_MAX_PARAMS_BYTES),
            ray_address=os.environ.get("PAUTA_RAY_ADDRESS") or None,
            mlflow_tracking_uri=mlflow_tracking_uri(),
            mlflow_retry_seconds=_seconds(
                "PAUTA_MLFLOW_RETRY_SECONDS", DEFAULT_MLFLOW_RETRY_SECONDS
            ),
        )

    def export_home(self) -> None:
        """Make ``PAUTA_HOME`` name this home when it names none, so that worker processes
        (and the tasks in them: ``pauta.secret``, files under the home) agree on it."""
        os.environ.setdefault("PAUTA_HOME", str(self.home))

    def ensure_home(self) -> None:
        """Create the home and logs folders when missing, for their owner only."""
        make_private_dirs(self.home)
        make_private_dirs(self.logs_dir)
