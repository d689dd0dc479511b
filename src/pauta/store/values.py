"""How timestamps and JSON are written to SQLite, without SQLAlchemy.

The SQLAlchemy column types of ``pauta.store.types`` use these converters on SQLite, and the
light store of ``pauta run`` (``pauta.store.lite``) too, so both write the same text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} given to the store; pass a timezone-aware "
            "datetime (pauta.core.clock.utcnow() gives one)"
        )
    return value.astimezone(UTC)


def datetime_to_sqlite(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DATETIME writes, "2026-01-31 03:00:00.000000": UTC without
    # an offset, so that ORDER BY on the text is chronological.
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = aware_utc(value)
    return value.isoformat(" ", "microseconds")[:26]


def datetime_from_sqlite(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _make_encoder() -> Callable[[Any, int], Any] | None:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(  # type: ignore[no-any-return]
        None,  # no circular-reference markers
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )


# json.dumps builds a new C encoder on every call, which is most of its cost for the small
# values a group commit writes by the thousands; this one is built once.
_ENCODER = _make_encoder()


def json_dumps(value: Any) -> str:
    """``value`` as JSON text, exactly as ``json.dumps`` writes it (without its check for
    circular references), several times faster for small values."""
    if _ENCODER is None:
        return json.dumps(value)
    return "".join(_ENCODER(value, 0))
