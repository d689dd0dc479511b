"""The web UI: server-rendered pages and vendored static files, served beside the API.

``create_app`` is imported on first use, so importing a piece of the UI does not load every
page module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pauta.ui.site import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from pauta.ui.site import create_app

        return create_app
    raise AttributeError(f"module 'pauta.ui' has no attribute {name!r}")
