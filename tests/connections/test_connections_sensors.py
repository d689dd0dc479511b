"""The sql and http sensors take a connection's name instead of a URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import connection_flows as cf
import pytest
from connections_support import HTTP_PASSWORD, HTTP_USER

from pauta import sensors
from pauta.app.connections import add_connection
from pauta.core import secrets
from pauta.core.errors import DefinitionError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState
from pauta.engine.runner import Runner
from pauta.store.repository import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.delenv("PAUTA_SECRET_KEY", raising=False)
    secrets.clear_registry()
    yield Settings.from_env()
    secrets.clear_registry()


def add(settings: Settings, name: str, url: str) -> None:
    store = Store.from_settings(settings)
    try:
        add_connection(store, settings.home, name, url)
    finally:
        store.close()


def a_table(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])


def test_a_sql_sensor_outside_a_flow_reads_the_stored_connection(
    settings: Settings, tmp_path: Path
) -> None:
    a_table(tmp_path / "data.db", 3)
    add(settings, "lite", f"sqlite:///{tmp_path / 'data.db'}")
    assert sensors.sql("lite", "SELECT count(*) FROM t", timeout=10) == (3,)


def test_an_http_sensor_sends_the_connections_credentials(
    settings: Settings, http_server: str
) -> None:
    host = http_server.removeprefix("http://")
    add(settings, "api", f"http://{HTTP_USER}:{HTTP_PASSWORD}@{host}/health")
    assert sensors.http("api", timeout=10) == "ready"


def test_sensors_in_a_flow_resolve_names_where_they_poke(
    settings: Settings, tmp_path: Path, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_table(tmp_path / "data.db", 2)
    add(settings, "lite", f"sqlite:///{tmp_path / 'data.db'}")
    host = http_server.removeprefix("http://")
    monkeypatch.setenv("PAUTA_CONN_API", f"http://{HTTP_USER}:{HTTP_PASSWORD}@{host}/")
    runner = Runner(settings, capacity=Resources(cpus=2), workers=1)
    try:
        rows = runner.run(cf.wait_for_rows, {"name": "lite"})
        assert rows.state == FlowRunState.SUCCEEDED
        assert rows.result() == (2,)
        api = runner.run(cf.wait_for_api, {"name": "api"})
        assert api.state == FlowRunState.SUCCEEDED, api.tasks[0].error
        assert api.result() == "ready"
        missing = runner.run(cf.wait_for_rows, {"name": "nowhere"})
        assert missing.state == FlowRunState.FAILED
        [sensor] = missing.tasks
        assert "no connection named 'nowhere'" in sensor.error["message"]
    finally:
        runner.close()


@pytest.mark.parametrize("target", ["<script>", "bad name"])
def test_a_name_that_cannot_be_a_connection_is_refused_at_once(target: str) -> None:
    with pytest.raises(DefinitionError, match="connection name"):
        sensors.sql(target, "SELECT 1")
    with pytest.raises(DefinitionError, match="connection name"):
        sensors.http(target)


def test_urls_still_work(tmp_path: Path) -> None:
    a_table(tmp_path / "data.db", 1)
    assert sensors.sql(f"sqlite:///{tmp_path / 'data.db'}", "SELECT count(*) FROM t") == (1,)
    with pytest.raises(DefinitionError, match="http:// or https://"):
        sensors.http("ftp://host/x")


def test_an_object_key_sensor_waits_for_a_key_under_a_connection(
    settings: Settings, s3_endpoint: str, s3_bucket: str
) -> None:
    import s3fs
    from connections_support import S3_KEY, S3_SECRET

    store = Store.from_settings(settings)
    try:
        add_connection(
            store,
            settings.home,
            "lake",
            f"s3://{S3_KEY}:{S3_SECRET}@{s3_bucket}/raw",
            extras={"endpoint_url": s3_endpoint},
        )
    finally:
        store.close()
    found = sensors.object_key("day=*.csv", conn="lake", poke_interval=0.05, timeout=10)
    assert found == [f"s3://{s3_bucket}/raw/day=1.csv"]
    with pytest.raises(sensors.SensorTimeout):
        sensors.object_key("day=*.parquet", conn="lake", poke_interval=0.05, timeout=0.3)
    # a key that arrives while it waits is seen (no stale listing)
    fs = s3fs.S3FileSystem(
        key=S3_KEY, secret=S3_SECRET, endpoint_url=s3_endpoint, skip_instance_cache=True
    )
    import threading

    later = threading.Timer(0.3, lambda: fs.pipe(f"{s3_bucket}/raw/day=2.parquet", b"x"))
    later.start()
    try:
        assert sensors.object_key("day=*.parquet", conn="lake", poke_interval=0.05, timeout=10)
    finally:
        later.cancel()


def test_an_object_key_sensor_needs_a_url_or_a_connection() -> None:
    with pytest.raises(DefinitionError, match="full URL"):
        sensors.object_key("raw/day=*.csv")
    with pytest.raises(DefinitionError, match="conn"):
        sensors.object_key("day=*", conn="not a name!")
