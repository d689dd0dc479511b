"""The REST API: FastAPI app under /api/v1, authentication, /health and /metrics.

``create_app`` is imported on first use: importing ``pauta.api.auth`` (as the CLI does) does
not load every route module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pauta.api.server import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from pauta.api.server import create_app

        return create_app
    raise AttributeError(f"module 'pauta.api' has no attribute {name!r}")
