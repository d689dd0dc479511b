"""The interactive API docs at ``/api/docs``: Swagger UI served from the package.

FastAPI's own docs page loads Swagger UI from a CDN, unpinned, and starts it with an inline
script; here the files are vendored (``static/vendor``, pinned and checksummed) and the page
starts them from ``static/docs.js``, so the Content-Security-Policy of ``headers`` holds.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import escape

STATIC = Path(__file__).parent / "static"
ASSETS = "/api/static"
DOCS_PATH = "/api/docs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API</title>
  <link rel="stylesheet" href="{assets}/vendor/swagger-ui.css">
  <script src="{assets}/vendor/swagger-ui-bundle.js" defer></script>
  <script src="{assets}/docs.js" defer></script>
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""


def docs_page(title: str, openapi_url: str) -> str:
    """The HTML of the docs page for the OpenAPI description at ``openapi_url``."""
    return _PAGE.format(title=escape(title), assets=ASSETS, openapi_url=escape(openapi_url))


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the docs page at ``DOCS_PATH`` and its files under ``ASSETS``."""
    page = docs_page(app.title, openapi_url)

    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount(ASSETS, StaticFiles(directory=STATIC), name="api-static")
    app.add_api_route(DOCS_PATH, api_docs, methods=["GET"], include_in_schema=False)
