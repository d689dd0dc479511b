"""A small service app for the browser tests: it answers with its revision's config."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app(config: dict) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def answer(request: Request) -> JSONResponse:
        return JSONResponse(config)

    return Starlette(routes=[Route("/health", health), Route("/", answer)])
