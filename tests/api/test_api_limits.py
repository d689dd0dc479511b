"""Request size limits: small bodies for requests without valid credentials, a documented
limit for the others, and one for run parameters. Streamed bodies are counted as they come."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import bearer
from fastapi.testclient import TestClient

from pauta.api import create_app
from pauta.api.limits import ANONYMOUS_BODY_BYTES
from pauta.core.settings import DEFAULT_MAX_PARAMS_BYTES, DEFAULT_MAX_REQUEST_BYTES, Settings
from pauta.store.repository import Store

TRIGGER = "/api/v1/flows/greet/runs"
KIB = 1024


def _chunks(total: int, size: int = 16 * KIB) -> Iterator[bytes]:
    # a generator body goes out chunked, with no Content-Length to check up front
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


def _stream(client: TestClient, total: int, headers: dict[str, str] | None = None) -> int:
    reply = client.post(
        TRIGGER,
        content=_chunks(total),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return reply.status_code


def test_a_large_anonymous_body_is_refused_not_read(client: TestClient) -> None:
    body = b"{" + b" " * (ANONYMOUS_BODY_BYTES + 1) + b"}"
    reply = client.post(TRIGGER, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "64 KiB" in reply.json()["detail"]
    assert _stream(client, 50 * 1024 * KIB) == 413  # 50 MB, streamed: stopped at 64 KiB
    # a small anonymous body is read and answered 401 as before
    small = client.post(TRIGGER, json={"params": {"name": "ada"}})
    assert small.status_code == 401


def test_made_up_credentials_get_the_anonymous_limit(client: TestClient) -> None:
    made_up = {**bearer("not-a-token"), "Cookie": "pauta_session=nope"}
    assert _stream(client, ANONYMOUS_BODY_BYTES + KIB, made_up) == 413


def test_authenticated_bodies_have_a_larger_limit(
    client: TestClient, as_admin: dict[str, str]
) -> None:
    # over the anonymous limit, under the authenticated one: read, then judged as parameters
    assert _stream(client, 200 * KIB, as_admin) == 422  # spaces are not JSON
    too_big = client.post(
        TRIGGER, content=_chunks(DEFAULT_MAX_REQUEST_BYTES + KIB), headers=as_admin
    )
    assert too_big.status_code == 413
    detail = too_big.json()["detail"]
    assert "1 MiB" in detail
    assert "PAUTA_MAX_REQUEST_BYTES" in detail


def test_the_authenticated_limit_is_a_setting(
    store: Store,
    tmp_path: Path,
    flows_dir: Path,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAUTA_MAX_REQUEST_BYTES", str(100 * KIB))
    settings = Settings.from_env(tmp_path / "home")
    assert settings.max_request_bytes == 100 * KIB
    with TestClient(create_app(settings, store=store, flows_dir=flows_dir)) as client:
        assert _stream(client, 120 * KIB, bearer(tokens["admin"])) == 413


def test_run_parameters_have_a_limit_that_says_what_to_do(
    client: TestClient, as_admin: dict[str, str]
) -> None:
    name = "x" * (DEFAULT_MAX_PARAMS_BYTES + 1)
    reply = client.post(TRIGGER, json={"params": {"name": name}}, headers=as_admin)
    assert reply.status_code == 422
    message = reply.json()["message"]
    assert reply.json()["detail"][0]["field"] == "params"
    assert "64 KiB" in message
    assert "path or URI" in message
    fits = client.post(TRIGGER, json={"params": {"name": "x" * 60 * KIB}}, headers=as_admin)
    assert fits.status_code == 201, fits.text


def test_settings_refuse_nonsense_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAUTA_MAX_PARAMS_BYTES", "lots")
    with pytest.raises(ValueError, match="PAUTA_MAX_PARAMS_BYTES"):
        Settings.from_env(tmp_path)
