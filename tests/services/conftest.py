"""Fixtures of the services tests: the home's store, the test app's folder, and a supervisor
running in a thread of the test process (see services_support)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from services_support import HERE, SupervisorThread

from pauta.core.settings import Settings
from pauta.store.repository import Store


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding ``service_apps.py``, first on ``sys.path``: ``services.deploy`` finds
    the app's module there, and the replicas import it from there."""
    folder = tmp_path / "apps"
    folder.mkdir()
    shutil.copy(HERE / "service_apps.py", folder / "service_apps.py")
    monkeypatch.delitem(sys.modules, "service_apps", raising=False)
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    """The store of the home (``PAUTA_HOME``): the one ``services.deploy`` opens."""
    opened = Store.from_settings(Settings.from_env())
    yield opened
    opened.close()


@pytest.fixture
def supervisor(store: Store, home: Path, apps: Path) -> Iterator[SupervisorThread]:
    running = SupervisorThread(store, home / "services").start()
    yield running
    running.stop()
