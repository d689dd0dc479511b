"""The scheduler's deadline check with a frozen clock, on a real store: a missed deadline is
reported once (not again by a restarted scheduler), to the flow's on_failure callbacks and to a
webhook; cancel=True cancels; a run that finished in time reports nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pauta.core.clock import FrozenClock
from pauta.core.loading import load_file, module_name_for
from pauta.core.states import FlowRunState
from pauta.notify.webhook import Webhook
from pauta.scheduling.deadlines import DeadlineCheck
from pauta.scheduling.discovery import Discovery, discover
from pauta.scheduling.scheduler import new_run
from pauta.scheduling.service import SchedulerService
from pauta.store.deadlines import missed_deadlines
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store
from webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)

FLOWS = """
from datetime import timedelta
from pauta import Deadline, flow

SEEN = []


def remember(event):
    SEEN.append(event)


@flow(deadline=timedelta(hours=1), on_failure=remember)
def etl() -> None:
    pass


@flow(
    deadline=Deadline(within=timedelta(minutes=30), after="queued", cancel=True),
    on_failure=remember,
)
def strict() -> None:
    pass
"""


@pytest.fixture
def notifier(webhook: WebhookReceiver) -> Webhook:
    return Webhook(webhook.url)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Discovery:
    folder = tmp_path_factory.mktemp("flows")
    (folder / "deadlined.py").write_text(FLOWS)
    return discover(folder)


@pytest.fixture
def seen(found: Discovery) -> list[Any]:
    """What the flows' on_failure callback was given, in this process (the scheduler's)."""
    path = found.flows["etl"].file
    events: list[Any] = load_file(path, module_name_for(path)).SEEN
    events.clear()
    return events


def queue(store: Store, found: Discovery, name: str, at: datetime = T0) -> FlowRunRecord:
    info = found.flows[name]
    run = new_run(info, logical_date=at, interval=(at, at), now=at, trigger="schedule", key=None)
    return store.create_flow_run(run)


def test_the_discovered_flow_carries_its_deadline(found: Discovery) -> None:
    assert found.flows["etl"].deadline == {"within": 3600.0, "after": "logical_date",
                                           "cancel": False}  # fmt: skip
    assert found.flows["strict"].deadline == {"within": 1800.0, "after": "queued", "cancel": True}


def test_a_missed_deadline_is_reported_once_even_after_a_restart(
    store: Store, found: Discovery, seen: list[Any], notifier: Webhook, webhook: WebhookReceiver
) -> None:
    run = queue(store, found, "etl")
    assert run.deadline_at == T0 + timedelta(hours=1)
    check = DeadlineCheck(store, notifiers=lambda: [notifier])
    try:
        assert check.check(T0 + timedelta(minutes=59)) == []
        [missed] = check.check(T0 + timedelta(minutes=61))
        assert missed.id == run.id
        check.wait(run.id)
        assert check.check(T0 + timedelta(minutes=62)) == []
    finally:
        check.close()
    [event] = seen
    assert (event.kind, event.what, event.run_id, event.state) == (
        "flow",
        "deadline_missed",
        run.id,
        "QUEUED",
    )
    assert event.deadline_at == T0 + timedelta(hours=1)
    assert "missed its deadline (due 2026-03-02 07:00 UTC)" in event.summary()
    [posted] = webhook.received
    assert posted["what"] == "deadline_missed"
    assert posted["deadline_at"] == "2026-03-02T07:00:00+00:00"
    assert posted["error"]["type"] == "DeadlineMissed"
    # the run goes on
    assert store.get_flow_run(run.id).state == FlowRunState.QUEUED
    # a restarted scheduler finds the miss recorded and says nothing
    restarted = DeadlineCheck(store, notifiers=lambda: [notifier])
    try:
        assert restarted.check(T0 + timedelta(hours=3)) == []
    finally:
        restarted.close()
    assert len(seen) == 1
    assert len(webhook.received) == 1


def test_cancel_true_cancels_the_run_after_reporting_it(
    store: Store, found: Discovery, seen: list[Any]
) -> None:
    run = queue(store, found, "strict", at=T0 - timedelta(days=3))  # counted from queueing
    check = DeadlineCheck(store, notifiers=list)
    try:
        assert check.check(T0 - timedelta(days=3) + timedelta(minutes=29)) == []
        [missed] = check.check(T0 - timedelta(days=3) + timedelta(minutes=31))
        check.wait(missed.id)
    finally:
        check.close()
    assert [e.what for e in seen] == ["deadline_missed"]
    assert store.get_flow_run(run.id).state == FlowRunState.CANCELLED


def test_a_run_that_finished_in_time_reports_nothing(
    store: Store, found: Discovery, seen: list[Any]
) -> None:
    run = queue(store, found, "etl")
    claimed = store.claim_queued_run(host="here", pid=1, now=T0 + timedelta(minutes=1))
    assert claimed is not None
    assert claimed.id == run.id
    assert store.transition_flow_run(
        run.id,
        FlowRunState.SUCCEEDED,
        expected=FlowRunState.RUNNING,
        epoch=claimed.lease_epoch,
        now=T0 + timedelta(minutes=50),
        ended_at=T0 + timedelta(minutes=50),
    )
    check = DeadlineCheck(store, notifiers=list)
    try:
        assert check.check(T0 + timedelta(hours=5)) == []
    finally:
        check.close()
    assert seen == []
    assert missed_deadlines(store, [run.id]) == set()


def test_the_scheduler_service_checks_deadlines_each_pass(
    store: Store, found: Discovery, seen: list[Any], tmp_path: Path
) -> None:
    run = queue(store, found, "etl")
    clock = FrozenClock(T0 + timedelta(hours=2))
    service = SchedulerService(store, tmp_path, clock=clock)
    service.deadlines = DeadlineCheck(store, notifiers=list)
    try:
        service.evaluate(Discovery(tmp_path, {}, [], T0))
        service.deadlines.wait(run.id)
    finally:
        service.deadlines.close()
    assert missed_deadlines(store, [run.id]) == {run.id}
    assert [e.run_id for e in seen] == [run.id]
