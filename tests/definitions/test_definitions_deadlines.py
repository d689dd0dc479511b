"""Deadline definitions: @flow(deadline=...), Deadline(...) validation, when a run is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import pauta
from pauta import Deadline, flow
from pauta.core.errors import DefinitionError
from pauta.definitions.deadlines import as_deadline

TICK = datetime(2026, 3, 2, 6, tzinfo=UTC)
QUEUED = datetime(2026, 3, 2, 6, 5, tzinfo=UTC)


def test_a_timedelta_is_a_deadline_after_the_logical_date() -> None:
    @flow(deadline=timedelta(hours=2))
    def nightly() -> None:
        pass

    deadline = nightly.options.deadline
    assert deadline == Deadline(within=timedelta(hours=2))
    assert deadline is not None
    assert (deadline.after, deadline.cancel) == ("logical_date", False)
    assert deadline.due(logical_date=TICK, queued_at=QUEUED, trigger="schedule") == (
        TICK + timedelta(hours=2)
    )


def test_a_deadline_after_queueing_and_one_that_cancels() -> None:
    @flow(deadline=Deadline(within=timedelta(minutes=30), after="queued", cancel=True))
    def etl() -> None:
        pass

    deadline = etl.options.deadline
    assert deadline is not None
    assert deadline.cancel is True
    assert deadline.due(logical_date=TICK, queued_at=QUEUED, trigger="schedule") == (
        QUEUED + timedelta(minutes=30)
    )
    assert deadline.describe() == "within 0:30:00 of being queued, then cancel"


def test_a_backfill_run_counts_from_when_it_was_queued() -> None:
    deadline = Deadline(within=timedelta(hours=1))
    old = datetime(2025, 1, 1, tzinfo=UTC)
    assert deadline.due(logical_date=old, queued_at=QUEUED, trigger="backfill") == (
        QUEUED + timedelta(hours=1)
    )
    assert deadline.due(logical_date=old, queued_at=QUEUED, trigger="manual") == (
        old + timedelta(hours=1)
    )


def test_seconds_work_as_well_as_timedeltas() -> None:
    assert as_deadline(90, where="x") == Deadline(within=timedelta(seconds=90))
    assert Deadline(within=1.5).within == timedelta(seconds=1.5)
    assert as_deadline(None, where="x") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"within": timedelta(0)}, "must be a positive time"),
        ({"within": -5}, "must be a positive time"),
        ({"within": "2h"}, "give a timedelta such as timedelta"),
        ({"within": True}, "give a timedelta"),
        ({"within": float("inf")}, "finite"),
        ({"within": 60, "after": "started"}, "after must be 'logical_date' or 'queued'"),
        ({"within": 60, "cancel": "yes"}, "cancel must be True or False"),
    ],
)
def test_bad_deadlines_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Deadline(**kwargs)


def test_a_bad_flow_deadline_names_the_flow() -> None:
    with pytest.raises(DefinitionError, match=r"@flow 'etl': deadline must be a timedelta"):

        @flow(name="etl", deadline="2 hours")
        def etl() -> None:
            pass

    with pytest.raises(DefinitionError, match=r"@flow 'etl': deadline: .*positive"):

        @flow(name="etl", deadline=timedelta(0))
        def etl2() -> None:
            pass


def test_the_spec_round_trips() -> None:
    deadline = Deadline(within=timedelta(hours=2), after="queued", cancel=True)
    assert deadline.spec() == {"within": 7200.0, "after": "queued", "cancel": True}
    assert Deadline.from_spec(deadline.spec()) == deadline


def test_deadline_is_a_public_name() -> None:
    assert pauta.Deadline is Deadline
    assert "Deadline" in pauta.__all__
