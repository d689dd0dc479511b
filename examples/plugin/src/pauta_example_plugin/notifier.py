"""``jsonl://``: append each event as one JSON line to a file.

``PAUTA_NOTIFY=jsonl:///var/log/pauta-events.jsonl`` names the file in the URL;
``PAUTA_NOTIFY=jsonl://`` uses the file named by ``PAUTA_EXAMPLE_EVENTS``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from pauta.notify import Event

ENV_VAR = "PAUTA_EXAMPLE_EVENTS"


class JsonLines:
    """A notifier writing ``Event.to_json()`` as one line per event."""

    _lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def from_url(cls, url: str) -> JsonLines:
        _, _, rest = url.partition("://")
        if rest:
            return cls(rest)
        named = os.environ.get(ENV_VAR)
        if not named:
            raise ValueError(
                f"jsonl:// names no file: give a path (jsonl:///PATH) or set {ENV_VAR}"
            )
        return cls(named)

    def __call__(self, event: Event) -> None:
        line = json.dumps(event.to_json(), default=str) + "\n"
        # one write per line under a lock, so that events of concurrent tasks never interleave
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
