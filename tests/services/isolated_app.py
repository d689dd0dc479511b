"""A plain ASGI app for replicas in a virtualenv or a container: only the standard library
(an image or environment has no Starlette), plus ``pauta_venv_probe`` where it is installed.

``GET /health`` answers ok; ``GET /`` answers which Python runs it, where the probe package
comes from (None when it is not there) and the revision's ``answer``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def create_app(config: dict[str, Any]) -> Any:
    try:
        import pauta_venv_probe as probe

        probe_file: str | None = probe.__file__
    except ImportError:
        probe_file = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            body = b"ok"
        else:
            body = json.dumps(
                {
                    "answer": config.get("answer"),
                    "python": sys.executable,
                    "prefix": sys.prefix,
                    "probe": probe_file,
                    "in_container": os.path.exists("/run/.containerenv"),
                }
            ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
