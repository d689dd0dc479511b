"""A ``pauta.connection_types`` plugin: ``tcp://`` connections to the local Redis server."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed import Site, install

from pauta.connections import connection
from pauta.connections.errors import ConnectionsError
from pauta.connections.probe import probe
from pauta.plugins import discovery

REDIS = "tcp://127.0.0.1:6379"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    installed = install(tmp_path / "site", "plugin", "plugin_broken")
    for path in reversed(installed.paths):
        monkeypatch.syspath_prepend(str(path))
    discovery.reload()
    yield installed
    discovery.reload()
    # the installed plugins' modules only: flow files loaded as pauta_flows.* stay
    for module in [name for name in sys.modules if name.startswith("pauta_")]:
        if not module.startswith("pauta_flows"):
            del sys.modules[module]


def test_a_plugin_connection_gives_its_client_and_is_tested_by_its_probe(
    site: Site, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_CONN_CACHE", f"{REDIS}?timeout=5")
    conn = connection("cache")
    with conn.client() as opened:
        assert isinstance(opened, socket.socket)
        opened.sendall(b"PING\r\n")
        assert opened.recv(16) == b"+PONG\r\n"
    tested = probe(conn)
    assert tested.kind == "plugin"
    assert tested.ok, tested.message
    assert tested.message.startswith(f"reached {REDIS}")
    monkeypatch.setenv("PAUTA_CONN_CLOSED", "tcp://127.0.0.1:9")
    refused = probe(connection("closed"))
    assert not refused.ok
    assert "could not reach tcp://127.0.0.1:9: ConnectionRefusedError" in refused.message


def test_a_scheme_no_plugin_has_says_so(
    site: Site, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_CONN_ODD", "gopher://example.org/")
    with pytest.raises(ConnectionsError, match=r"no connection type plugin handles gopher://"):
        connection("odd").client()
