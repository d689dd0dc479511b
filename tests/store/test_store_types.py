"""Column types: timestamps come back aware UTC on both databases; JSON is JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from pauta.store.repository import Store
from pauta.store.tables import flows
from pauta.store.values import json_dumps


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {},
        ["a", "é", "\n", "\u2603"],
        {"b": 1, "a": [1.5, None, True, False, {"x": "y"}]},
        10**30,
        "plain",
        float("inf"),
    ],
)
def test_json_dumps_writes_what_json_dumps_writes(value: object) -> None:
    assert json_dumps(value) == json.dumps(value)


def test_json_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_dumps({"x": object()})
    assert math.isnan(json.loads(json_dumps(float("nan"))))


def _roundtrip(store: Store, value: datetime) -> datetime:
    with store.engine.begin() as conn:
        conn.execute(sa.insert(flows).values(name="f", description="", updated_at=value))
        got = conn.execute(sa.select(flows.c.updated_at)).scalar_one()
        conn.execute(sa.delete(flows))
    assert isinstance(got, datetime)
    return got


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 8, 2, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 8, 1, 59, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_datetimes_round_trip_as_aware_utc(store: Store, value: datetime) -> None:
    got = _roundtrip(store, value)
    # compared in UTC: an ambiguous local time (fold=1) never equals another zone's time
    assert got == value.astimezone(UTC)
    assert got.tzinfo is UTC


def test_sqlite_stores_sortable_utc_text(tmp_path: object) -> None:
    with Store("sqlite://") as store:
        value = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-3)))
        with store.engine.begin() as conn:
            conn.execute(sa.insert(flows).values(name="f", description="", updated_at=value))
            raw = conn.exec_driver_sql("SELECT updated_at FROM flows").scalar()
        assert raw == "2026-01-02 06:04:05.000006"


@pytest.mark.postgres
def test_postgres_session_time_zone_does_not_leak(pg_url: str) -> None:
    with Store(pg_url + "?options=-c%20timezone%3DAsia/Tokyo") as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "Asia/Tokyo"
        value = datetime(2026, 1, 1, 12, tzinfo=UTC)
        got = _roundtrip(store, value)
        assert (got, got.tzinfo) == (value, UTC)
