"""Calendars where users meet them: flow files discovered in their own processes, backfill,
the scheduler's catch-up, and the next-run preview in the API, the UI and the CLI. Time is a
frozen clock, except in the CLI tests, which use past dates or check the answer's shape."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from pauta.app import users
from pauta.core.clock import FrozenClock
from pauta.core.settings import Settings
from pauta.definitions.calendars import BusinessDays
from pauta.scheduling.discovery import Discovery, discover
from pauta.scheduling.scheduler import RETRY_CANNOT_TICK, Scheduler, backfill
from pauta.store.repository import Store
from pauta.ui.site import create_app

pytestmark = pytest.mark.slow

BA = "America/Argentina/Buenos_Aires"
AR = BusinessDays("AR")
PASSWORD = "a long password here"

FLOWS = """
from datetime import date
from pauta import BusinessDays, Cron, Every, flow

BA = "America/Argentina/Buenos_Aires"


class Never:
    def is_open(self, day: date) -> bool:
        return False


@flow(
    schedule=Cron("0 3 * * *", calendar=BusinessDays("AR"), exclude=[date(2026, 12, 23)]),
    timezone=BA,
    catchup=True,
)
def closing() -> None:
    pass


@flow(schedule=Every(hours=6, calendar=BusinessDays("AR")), timezone=BA)
def six_hourly() -> None:
    pass


@flow(schedule=Cron("0 3 * * *", calendar=Never()), timezone=BA)
def never() -> None:
    pass
"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(BA))  # type: ignore[misc]


def local_days(moments: list[datetime]) -> list[str]:
    return [m.astimezone(ZoneInfo(BA)).strftime("%m-%d") for m in moments]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    flows = tmp_path_factory.mktemp("flows")
    (flows / "calendars.py").write_text(FLOWS)
    return flows


@pytest.fixture(scope="module")
def found(folder: Path) -> Discovery:
    return discover(folder)


def test_the_discovered_flows_keep_their_calendars(found: Discovery) -> None:
    assert found.errors == []
    closing = found.flows["closing"]
    assert closing.schedule == "0 3 * * * on business days in AR, except 2026-12-23"
    assert closing.schedule_spec == {
        "cron": "0 3 * * *",
        "calendar": {"business_days": "AR", "subdiv": None, "weekend": [5, 6]},
        "exclude": ["2026-12-23"],
    }
    assert found.flows["never"].schedule == "0 3 * * * on Never()"
    assert "recorded" in found.flows["never"].schedule_spec["calendar"]  # type: ignore[index]


def test_backfill_over_the_holidays_creates_business_day_runs_only(
    store: Store, found: Discovery
) -> None:
    info = found.flows["closing"]
    now = local(2027, 1, 10)
    created, existing = backfill(store, info, local(2026, 12, 21), local(2027, 1, 6), now)
    assert existing == 0
    created.sort(key=lambda run: run.logical_date)
    assert local_days([run.logical_date for run in created]) == [
        "12-21", "12-22", "12-24", "12-28", "12-29", "12-30", "12-31", "01-04", "01-05",
    ]  # fmt: skip
    # each run's data interval starts at the previous business-day tick
    first_of_january = created[-2]
    assert first_of_january.interval_start == local(2026, 12, 31, 3)
    assert first_of_january.interval_end == first_of_january.logical_date == local(2027, 1, 4, 3)
    assert all(run.trigger == "backfill" for run in created)
    again, existing = backfill(store, info, local(2026, 12, 21), local(2027, 1, 6), now)
    assert (again, existing) == ([], 9)


def test_the_scheduler_catches_up_business_days_only(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    flows = [found.flows["closing"]]
    [first] = scheduler.evaluate(flows, local(2026, 12, 22, 3, 30))
    assert first.logical_date == local(2026, 12, 22, 3)
    # down from Tuesday to the next Tuesday: the 23rd is excluded, Christmas and the weekend
    # are closed, so catch-up creates Thursday, Monday and Tuesday
    created = scheduler.evaluate(flows, local(2026, 12, 29, 10))
    assert local_days([run.logical_date for run in created]) == ["12-24", "12-28", "12-29"]
    assert scheduler.evaluate(flows, local(2026, 12, 29, 11)) == []
    # Every with a calendar: the tick at 21:00 on Christmas Eve, then none until Monday
    six = Scheduler(store)
    assert six.evaluate([found.flows["six_hourly"]], local(2026, 12, 24, 22))[0].logical_date == (
        local(2026, 12, 24, 21)
    )
    assert six.evaluate([found.flows["six_hourly"]], local(2026, 12, 27, 23)) == []
    [monday] = six.evaluate([found.flows["six_hourly"]], local(2026, 12, 28, 4))
    assert monday.logical_date == local(2026, 12, 28, 3)
    assert monday.interval_start == local(2026, 12, 24, 21)


def test_a_schedule_that_cannot_tick_is_reported_not_searched_every_second(
    store: Store, found: Discovery, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Scheduler(store)
    flows = [found.flows["never"], found.flows["closing"]]
    now = local(2026, 12, 22, 3, 30)
    with caplog.at_level(logging.ERROR, logger="pauta.scheduler"):
        created = scheduler.evaluate(flows, now)
        for second in range(1, 5):
            scheduler.evaluate(flows, now + timedelta(seconds=second))
    assert [run.flow for run in created] == ["closing"]  # the other flows go on
    errors = [r.getMessage() for r in caplog.records if "never" in r.getMessage()]
    assert len(errors) == 1, errors
    assert "no tick on an open day in the ten years" in errors[0]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="pauta.scheduler"):
        scheduler.evaluate(flows, now + RETRY_CANNOT_TICK + timedelta(seconds=1))
    assert [r for r in caplog.records if "never" in r.getMessage()]  # looked at again


@pytest.fixture
def site(folder: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    # Thursday 2026-12-24 09:00 in Buenos Aires; Christmas and the weekend come next
    clock = FrozenClock(local(2026, 12, 24, 9).astimezone(UTC))
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}", clock=clock)
    users.create_user(store, "vera", PASSWORD, "viewer")
    app = create_app(Settings.from_env(tmp_path / "home"), store=store, flows_dir=folder)
    with TestClient(app) as client:
        yield client, store
    store.close()


def test_the_api_previews_the_next_business_day(site: tuple[TestClient, Store]) -> None:
    client, store = site
    headers = {"Authorization": f"Bearer {users.create_token(store, 'vera')}"}
    closing = client.get("/api/v1/flows/closing", headers=headers).json()
    assert closing["next_run"] == "2026-12-28T06:00:00+00:00"  # Monday 03:00 in Buenos Aires
    assert closing["next_run_error"] is None
    six = client.get("/api/v1/flows/six_hourly", headers=headers).json()
    assert six["next_run"] == "2026-12-24T18:00:00+00:00"
    never = client.get("/api/v1/flows/never", headers=headers).json()
    assert never["next_run"] is None
    assert "no tick on an open day in the ten years after" in never["next_run_error"]
    listed = client.get("/api/v1/flows", headers=headers).json()
    assert [f["next_run_error"] is None for f in listed] == [True, False, True]


def test_the_ui_previews_the_next_business_day(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"username": "vera", "password": PASSWORD, "login_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 200
    flows = client.get("/").text
    closing = re.search(r'<tr data-flow="closing">.*?</tr>', flows, flags=re.S)
    assert closing
    assert "2026-12-28 03:00 America/Argentina/Buenos_Aires" in closing.group(0)
    never = re.search(r'<tr data-flow="never">.*?</tr>', flows, flags=re.S)
    assert never
    assert "cannot tick" in never.group(0)
    page = client.get("/flows/never").text
    assert re.search(r'id="next-run-error">[^<]*no tick on an open day', page)
    page = client.get("/flows/closing").text
    assert "on business days in AR, except 2026-12-23" in page
    assert "2026-12-28 03:00 America/Argentina/Buenos_Aires" in page


def pauta(tmp_path: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home"), "PAUTA_FLOWS": str(folder)}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        cwd=tmp_path,
    )


def test_the_cli_backfills_and_previews_business_days(tmp_path: Path, folder: Path) -> None:
    # the turn of 2025 into 2026, in the past whenever this runs
    filled = pauta(
        tmp_path, folder, "backfill", "closing", "--start", "2025-12-22", "--end", "2026-01-06",
        "--json",
    )  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    days = sorted(
        datetime.fromisoformat(run["logical_date"]).astimezone(ZoneInfo(BA)).date()
        for run in json.loads(filled.stdout)
    )
    expected = [
        day
        for day in (date(2025, 12, 22) + timedelta(days=n) for n in range(15))
        if AR.is_open(day)
    ]
    assert days == expected
    assert date(2025, 12, 24) in days
    assert date(2025, 12, 25) not in days
    assert date(2026, 1, 1) not in days

    shown = pauta(tmp_path, folder, "flows", "show", "closing", "--json")
    assert shown.returncode == 0, shown.stderr
    upcoming = datetime.fromisoformat(json.loads(shown.stdout)["next_run"])
    assert AR.is_open(upcoming.astimezone(ZoneInfo(BA)).date())
    assert upcoming.astimezone(ZoneInfo(BA)).strftime("%H:%M") == "03:00"

    never = pauta(tmp_path, folder, "flows", "show", "never")
    assert never.returncode == 0, never.stderr
    assert "next run: -" in never.stdout
    assert "schedule error:" in never.stdout
    assert "ten years" in never.stdout
