"""Fixtures for engine tests: a runner on a fresh home, torn down after each test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def runner(module_home: Path) -> Iterator[Runner]:
    """A warm runner (2 workers, 4 cpus of capacity) shared by the tests of one module."""
    runner = Runner(Settings.from_env(module_home), capacity=Resources(cpus=4), workers=2)
    yield runner
    runner.close()
