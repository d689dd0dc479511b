"""Rendering a page: the template plus what every page shows (user, CSRF token, flash note)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from pauta.ui.session import FLASH_COOKIE, PageSession, read_flash
from pauta.ui.templating import templates


def page(
    request: Request,
    name: str,
    session: PageSession | None,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A full page: ``name`` rendered with ``context``, the session's user and CSRF token,
    and the flash note left by the previous action (shown once)."""
    note = read_flash(request)
    values: dict[str, Any] = {
        "user": session.user if session else None,
        "csrf": session.csrf if session else "",
        "can_operate": bool(session and session.may("operator")),
        "flash": note,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, values, status_code=status)
    if note is not None:
        response.delete_cookie(FLASH_COOKIE)
    return response


def fragment(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """A piece of a page that htmx swaps in."""
    return templates.TemplateResponse(request, name, context, status_code=status)
