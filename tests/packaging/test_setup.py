"""The README's setup commands and the package metadata.

`make server` must install pauta with what the examples need and nothing of the dev tools;
`make test` adds them. Building the package metadata must raise no warning from setuptools
(a deprecated `project.license` table becomes an error in a later setuptools).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make_dry_run(target: str, venv: Path) -> str:
    """The commands `make TARGET` would run with its virtual environment at VENV."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def _pip_installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if "pip install" in line and " -e " in line]


def test_make_server_installs_the_examples_extras_and_no_dev_tools(tmp_path: Path) -> None:
    installs = _pip_installs(_make_dry_run("server", tmp_path / "venv"))
    assert installs, "make server installs nothing"
    assert all("'.[examples]'" in line for line in installs), installs
    assert not any("dev" in line for line in installs), installs


def test_make_test_installs_the_dev_tools(tmp_path: Path) -> None:
    installs = _pip_installs(_make_dry_run("test", tmp_path / "venv"))
    assert any("'.[dev]'" in line for line in installs), installs


def test_make_test_after_make_server_still_installs_the_dev_tools(tmp_path: Path) -> None:
    # A virtual environment that `make server` has set up (its stamp newer than pyproject.toml).
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed").touch()
    assert _pip_installs(_make_dry_run("server", venv)) == []
    installs = _pip_installs(_make_dry_run("test", venv))
    assert any("'.[dev]'" in line for line in installs), installs


def test_the_package_metadata_builds_without_a_warning(tmp_path: Path) -> None:
    # `make setup-dev` installs it (the dev extras); older ones know no SPDX license string
    setuptools = version("setuptools")
    assert int(setuptools.split(".")[0]) >= 77, f"setuptools {setuptools}: run make setup-dev"
    # A copy of what the build reads, so that the build leaves nothing in the work tree.
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "src" / "pauta",
        tmp_path / "src" / "pauta",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path / "metadata"
    out.mkdir()
    build = (
        "import sys, setuptools.build_meta as backend; "
        "print(backend.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", build, str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-3000:]
    metadata = Parser().parsestr((out / done.stdout.split()[-1] / "METADATA").read_text())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert set(metadata.get_all("Provides-Extra")) == {
        "postgres",
        "mysql",
        "parquet",
        "s3",
        "examples",
        "dev",
        "uv",
        "ray",
        "mlflow",
    }
