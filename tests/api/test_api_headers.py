"""Security headers on every answer of the API: a Content-Security-Policy that allows no
inline script or style, no framing, no MIME sniffing, no cross-site referrer."""

from __future__ import annotations

import pytest
from api_support import assert_secure, bearer
from fastapi.testclient import TestClient

from pauta.api.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS


def test_the_policy_is_the_documented_one() -> None:
    assert_secure(SECURITY_HEADERS)
    assert SECURITY_HEADERS["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health", 200),
        ("/api/v1/openapi.json", 200),
        ("/api/docs", 200),
        ("/api/v1/flows", 200),
        ("/api/v1/runs/nosuchrun", 404),
        ("/api/v1/runs?limit=0", 422),
        ("/metrics", 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    client: TestClient, as_admin: dict[str, str], path: str, status: int
) -> None:
    answer = client.get(path, headers=as_admin)
    assert answer.status_code == status, answer.text
    assert_secure(answer.headers)
    anonymous = client.get(path)
    assert_secure(anonymous.headers)


def test_a_refused_request_carries_them_too(client: TestClient) -> None:
    answer = client.post("/api/v1/flows/greet/runs", json={}, headers=bearer("not-a-token"))
    assert answer.status_code == 401
    assert_secure(answer.headers)
