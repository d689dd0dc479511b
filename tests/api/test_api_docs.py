"""The interactive API docs: Swagger UI served from the package (pinned and checksummed, no
CDN), started by a static script so that the Content-Security-Policy holds."""

from __future__ import annotations

import hashlib
import re

from api_support import assert_secure
from fastapi.testclient import TestClient

from pauta.api.docs import ASSETS, STATIC

VENDOR = STATIC / "vendor"


def test_the_docs_load_swagger_ui_from_the_package(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "cdn" not in page.text.lower()
    assert "//" not in re.sub(r"<!--.*?-->|https?://(www\.)?w3\.org", "", page.text)
    # no inline script, no inline style: the CSP could not allow them
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, flags=re.S)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in page.text
    assert "style=" not in page.text
    sources = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)
    assert any(s.endswith("swagger-ui.css") for s in sources)
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert_secure(asset.headers)


def test_the_vendored_swagger_ui_files_match_their_checksums(client: TestClient) -> None:
    page = client.get("/api/docs").text
    table = (VENDOR / "VENDORED.md").read_text()
    recorded = dict(re.findall(r"\| `([\w.-]+\.(?:js|css))` \|.*\| `([0-9a-f]{64})` \|", table))
    assert set(recorded) == {"swagger-ui-bundle.js", "swagger-ui.css"}
    assert "5." in table  # the pinned swagger-ui-dist version is named
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        assert f"{ASSETS}/vendor/{name}" in page
        served = client.get(f"{ASSETS}/vendor/{name}").content
        assert served == (VENDOR / name).read_bytes()
