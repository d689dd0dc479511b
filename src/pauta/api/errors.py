"""pauta's errors as HTTP answers: 404 for unknown ids, 409 for a state that does not allow
the request, 422 (naming the field and the reason) for bad input. Nothing a client sends
should end as a 500.

A 422 has FastAPI's shape, ``{"detail": [{"loc", "msg", "type", ...}]}``, with ``field`` (the
dotted location, e.g. ``params.end``) and ``reason`` added to each item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pauta.api.logins import LoginBusyError, LoginThrottledError
from pauta.app.catalog import UnknownFlowError
from pauta.app.runs import BadCursorError, RunStateError, UnknownTaskError
from pauta.app.users import AuthError, WrongPasswordError
from pauta.connections.errors import (
    ConnectionExistsError,
    InvalidConnectionError,
    UnknownConnectionError,
)
from pauta.core.errors import (
    FlowNotFoundError,
    ParameterError,
    PautaError,
    RunNotFoundError,
    UnknownUserError,
)
from pauta.services.errors import ServiceSpecError
from pauta.store.auth import UnknownTokenError, UserExistsError
from pauta.store.services import ServiceNotFoundError

NOT_FOUND = (
    FlowNotFoundError,
    RunNotFoundError,
    UnknownFlowError,
    UnknownTaskError,
    UnknownUserError,
    UnknownTokenError,
    UnknownConnectionError,
    ServiceNotFoundError,
)


def invalid(items: list[dict[str, Any]], message: str) -> JSONResponse:
    return JSONResponse({"detail": items, "message": message}, status_code=422)


def _item(loc: Sequence[str | int], reason: str, kind: str) -> dict[str, Any]:
    shown = [str(part) for part in loc[1:]] if loc and loc[0] in {"body", "query"} else loc
    return {
        "loc": list(loc),
        "msg": reason,
        "type": kind,
        "field": ".".join(str(part) for part in shown),
        "reason": reason,
    }


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        _item(err.get("loc", ()), str(err.get("msg")), str(err.get("type"))) for err in exc.errors()
    ]


def validation_message(exc: RequestValidationError) -> str:
    """What was wrong with the request, one ``field: reason`` per fault (``page_no: Input
    should be less than or equal to 200000``)."""
    items = _validation_items(exc)
    return "; ".join(f"{item['field'] or 'body'}: {item['reason']}" for item in items)


async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """The API's 422 for a request FastAPI could not validate."""
    assert isinstance(exc, RequestValidationError)
    return invalid(_validation_items(exc), validation_message(exc))


async def _pauta_error(request: Request, exc: Exception) -> JSONResponse:
    text = str(exc)
    if isinstance(exc, ParameterError):
        items = [
            _item(("body", "params", str(e.get("param", "?"))), str(e.get("error")), "parameter")
            for e in exc.errors
        ] or [_item(("body", "params"), text, "parameter")]
        return invalid(items, text)
    if isinstance(exc, ServiceSpecError):
        return invalid([_item(("body",), text, "service")], text)
    if isinstance(exc, BadCursorError):
        return invalid([_item(("query", "cursor"), text, "cursor")], text)
    if isinstance(exc, LoginThrottledError):
        return JSONResponse(
            {"detail": text}, status_code=429, headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, LoginBusyError):
        return JSONResponse(
            {"detail": text}, status_code=503, headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, WrongPasswordError):
        return JSONResponse({"detail": text}, status_code=403)
    if isinstance(exc, AuthError):
        return invalid([_item(("body",), text, "auth")], text)
    if isinstance(exc, InvalidConnectionError):
        return invalid([_item(("body",), text, "connection")], text)
    if isinstance(exc, NOT_FOUND):
        return JSONResponse({"detail": text}, status_code=404)
    if isinstance(exc, RunStateError | UserExistsError | ConnectionExistsError):
        return JSONResponse({"detail": text}, status_code=409)
    # a flow file that no longer imports, a lease held elsewhere: the request was fine but the
    # server's state does not allow it now
    return JSONResponse({"detail": text}, status_code=409)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # the database refused a value (a NUL character, an out-of-range number): the client's
    # input, not a server fault
    reason = "a value was refused by the database (control characters, or out of range)"
    return invalid([_item(("request",), reason, "value_error")], reason)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(PautaError, _pauta_error)
    app.add_exception_handler(sa.exc.DataError, _data_error)
