"""The Ray Serve deployment of a ``ray`` service: the app factory's ASGI app in each replica.

Each replica (a Ray actor placed by Serve) imports the app's module from its working
directory (the app's folder, shipped by ``pauta.services.ray_serve``), calls the factory with
the revision's config and serves the ASGI app it returns through Serve's ingress. Serve's own
health checks call ``check_health``, which asks the app's health path in process: a replica
whose app answers anything but 2xx there is unhealthy and Serve replaces it.

Importing this module imports Ray Serve: only a ``ray`` service does.
"""

from __future__ import annotations

from typing import Any

from pauta.services.replica import load_app
from ray import serve


async def ask_health(app: Any, path: str) -> int:
    """The status code ``app`` answers to ``GET path`` (an ASGI call in this process)."""
    status = 500
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


class _ServiceReplica:
    def __init__(self, app: str, config: dict[str, Any], health: str | None) -> None:
        # the app's folder is the replica's working directory, which Ray puts on sys.path
        self._app = load_app(app, dict(config), [])
        self._health = health

    def __serve_build_asgi_app__(self) -> Any:
        return self._app

    async def check_health(self) -> None:
        if self._health is None:
            return
        status = await ask_health(self._app, self._health)
        if not 200 <= status < 300:
            raise RuntimeError(f"GET {self._health} answered {status}")


ServiceReplica = serve.ingress()(_ServiceReplica)
