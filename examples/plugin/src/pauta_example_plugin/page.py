"""``/plugins/example/``: a page saying who is looking, in pauta's UI menu.

pauta mounts this router behind its session check, so ``request.state.user`` is the
logged-in user; everything shown is escaped.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def hello(request: Request, note: str = "") -> HTMLResponse:
    user = request.state.user
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Example plugin · pauta</title></head><body>"
        "<h1>Example plugin</h1>"
        f"<p>Hello, {escape(user.username)} ({escape(user.role)}).</p>"
        f"<p class='note'>{escape(note)}</p>"
        "<p><a href='/'>Back to pauta</a></p></body></html>"
    )
    return HTMLResponse(body)
