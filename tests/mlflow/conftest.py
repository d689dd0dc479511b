"""One real ``mlflow server`` for the session (started once: it is slow to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow_server import MlflowServer


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()
