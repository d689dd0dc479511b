"""A tiny ASGI app factory for the services tests, configured by its revision's config.

``answer``: what ``GET /`` and ``POST /`` answer; ``health_status``: what ``/health`` answers;
``fail``: the factory raises; ``slow_s``: ``/slow`` takes that long (and first touches the file
``mark``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


def create_app(config: dict) -> Starlette:
    if config.get("fail"):
        print("loading the model...")
        raise RuntimeError("the model file is corrupt")

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", status_code=int(config.get("health_status", 200)))

    async def answer(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {"answer": config.get("answer"), "pid": os.getpid(), "echo": body.decode()}
        )

    async def slow(request: Request) -> JSONResponse:
        if config.get("mark"):
            Path(config["mark"]).touch()  # tells the test the request arrived
        await asyncio.sleep(float(config.get("slow_s", 1.0)))
        return JSONResponse({"answer": config.get("answer"), "slow": True})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/", answer, methods=["GET", "POST"]),
            Route("/slow", slow),
        ]
    )
