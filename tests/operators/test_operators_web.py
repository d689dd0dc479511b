"""``http`` against a real local server: JSON back (or text), expected statuses, a connection's
base URL and credentials (basic or bearer), and credentials that never go to another host."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from operator_support import Api, api_server

from pauta.operators import HttpStatusError, OperatorError, http


@pytest.fixture
def api() -> Iterator[Api]:
    with api_server() as server:
        yield server


@dataclass
class Conn:
    """A connection object as ``pauta.connections.connection(name)`` returns: a URL, extras."""

    url: str
    extras: dict[str, Any] = field(default_factory=dict)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_json_is_sent_and_parsed(api: Api) -> None:
    api.routes[("POST", "/jobs")] = (201, "application/json", b'{"id": 7, "ok": true}')
    answer = http("POST", f"{api.base}/jobs", json={"model": "churn"}, expect=(201,))
    assert answer == {"id": 7, "ok": True}
    [seen] = api.seen
    assert json.loads(seen.body) == {"model": "churn"}
    assert seen.headers["Content-Type"] == "application/json"


def test_text_comes_back_as_text_and_empty_as_none(api: Api) -> None:
    api.routes[("GET", "/health")] = (200, "text/plain; charset=utf-8", "listo ✓".encode())
    api.routes[("DELETE", "/jobs/7")] = (204, "text/plain", b"")
    assert http("GET", f"{api.base}/health") == "listo ✓"
    assert http("DELETE", f"{api.base}/jobs/7", expect=204) is None


def test_an_unexpected_status_says_the_code_and_the_body(api: Api) -> None:
    api.routes[("GET", "/broken")] = (503, "text/plain", b"database down " + b"x" * 2000)
    with pytest.raises(HttpStatusError) as raised:
        http("GET", f"{api.base}/broken")
    error = raised.value
    assert error.status == 503
    assert "answered 503, expected 200" in str(error)
    assert "database down" in str(error)
    assert len(error.body) == 500  # an excerpt, not the whole body
    assert http("GET", f"{api.base}/broken", expect=(200, 503)).startswith("database down")


def test_a_connection_gives_the_base_url_and_basic_auth(api: Api) -> None:
    api.routes[("GET", "/v1/models/3")] = (200, "application/json", b'{"name": "churn"}')
    conn = f"http://etl:s%3Acret@127.0.0.1:{api.server.server_address[1]}/v1"
    assert http("GET", "models/3", conn=conn) == {"name": "churn"}
    assert http("GET", "/models/3", conn=Conn(conn)) == {"name": "churn"}
    for seen in api.seen:
        assert seen.path == "/v1/models/3"
        assert seen.headers["Authorization"] == _basic("etl", "s:cret")


def test_a_bearer_token_from_the_connection_extras(api: Api) -> None:
    api.routes[("GET", "/me")] = (200, "application/json", b'{"me": "etl"}')
    assert http("GET", "/me", conn=Conn(api.base, {"token": "t0ken-abc"})) == {"me": "etl"}
    assert api.seen[0].headers["Authorization"] == "Bearer t0ken-abc"


def test_credentials_in_a_plain_url_become_basic_auth(api: Api) -> None:
    api.routes[("GET", "/x")] = (200, "text/plain", b"ok")
    port = api.server.server_address[1]
    assert http("GET", f"http://user:pw@127.0.0.1:{port}/x") == "ok"
    assert api.seen[0].headers["Authorization"] == _basic("user", "pw")


def test_credentials_never_follow_a_redirect_to_another_host(api: Api) -> None:
    with api_server() as elsewhere:
        elsewhere.routes[("GET", "/landing")] = (200, "text/plain", b"landed")
        # 127.0.0.1 and localhost are different hosts as far as credentials go
        target = f"http://localhost:{elsewhere.server.server_address[1]}/landing"
        api.routes[("GET", "/go")] = (302, "text/plain", target.encode())
        api.routes[("GET", "/same")] = (302, "text/plain", b"/v2/here")
        api.routes[("GET", "/v2/here")] = (200, "text/plain", b"here")
        conn = Conn(api.base, {"token": "secret-token"})
        assert http("GET", "/go", conn=conn) == "landed"
        assert "Authorization" not in elsewhere.seen[0].headers
        assert http("GET", "/same", conn=conn) == "here"
        assert api.seen[-1].headers["Authorization"] == "Bearer secret-token"
        with pytest.raises(OperatorError, match="another host than the connection"):
            http("GET", target, conn=conn)


def test_headers_are_sent(api: Api) -> None:
    api.routes[("GET", "/h")] = (200, "text/plain", b"ok")
    http("GET", f"{api.base}/h", headers={"X-Request-Id": "42"})
    assert api.seen[0].headers["X-Request-Id"] == "42"


def test_a_refused_connection_is_an_operator_error() -> None:
    with api_server() as gone:
        base = gone.base
    with pytest.raises(OperatorError, match=r"GET .* failed") as raised:
        http("GET", f"{base}/x", timeout=5)
    assert not isinstance(raised.value, HttpStatusError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "FETCH", "url": "http://127.0.0.1/"}, "method 'FETCH' is not one of"),
        ({"method": "GET", "url": "ftp://example/"}, "must start with http:// or https://"),
        ({"method": "GET", "url": "http://127.0.0.1/", "timeout": 0}, "timeout must be"),
        ({"method": "GET", "url": "/x", "conn": "ftp://host/"}, "connection's URL must start"),
    ],
)
def test_bad_calls_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        http(**kwargs)
