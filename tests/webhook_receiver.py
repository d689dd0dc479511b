"""A webhook endpoint for the notifier tests: an HTTP server on 127.0.0.1 that answers 204
and keeps the JSON bodies posted to it. The ``webhook`` fixture (tests/conftest.py) serves one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class WebhookReceiver:
    """Where the endpoint listens, and the JSON bodies posted to it so far."""

    url: str
    received: list[dict] = field(default_factory=list)

    @classmethod
    @contextmanager
    def serving(cls) -> Iterator[WebhookReceiver]:
        """Listen on a free port until the block ends."""
        posted: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posted.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield cls(f"http://127.0.0.1:{server.server_address[1]}/hook", posted)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
