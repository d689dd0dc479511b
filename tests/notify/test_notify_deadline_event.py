"""The deadline_missed event: what every notifier says of a run still going after its deadline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pauta.notify.email import Email
from pauta.notify.notifiers import TEMPLATE_FIELDS, Event
from pauta.notify.slack import SlackWebhook

DUE = datetime(2026, 3, 2, 8, tzinfo=UTC)


def missed(**changes: object) -> Event:
    fields: dict[str, object] = {
        "kind": "flow",
        "what": "deadline_missed",
        "flow": "etl",
        "run_id": "06hx3k2mq1a7bcde",
        "state": "RUNNING",
        "logical_date": datetime(2026, 3, 2, 6, tzinfo=UTC),
        "deadline_at": DUE,
        "error": {"type": "DeadlineMissed", "message": "due by 08:00", "traceback": None},
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


def test_the_event_says_when_it_was_due_and_that_the_run_goes_on() -> None:
    event = missed()
    assert event.summary() == (
        "⏰ flow etl run 06hx3k2mq1a7bcde missed its deadline (due 2026-03-02 08:00 UTC) and "
        "is still RUNNING"
    )
    data = event.to_json()
    assert data["what"] == "deadline_missed"
    assert data["deadline_at"] == "2026-03-02T08:00:00+00:00"
    assert "deadline_at" in TEMPLATE_FIELDS
    assert "still RUNNING" in SlackWebhook("https://chat.example/hook").payload(event)["text"]
    subject = Email(to="ml@example.com").message(event)["Subject"]
    assert subject.startswith("[pauta] etl missed its deadline")


@pytest.mark.parametrize(
    "changes",
    [
        {"deadline_at": None},
        {"kind": "task", "task_key": "a-0"},
        {"deadline_at": datetime(2026, 3, 2)},
    ],
)
def test_a_deadline_event_needs_a_flow_and_an_aware_due_time(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="deadline"):
        missed(**changes)
