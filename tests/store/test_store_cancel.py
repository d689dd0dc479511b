"""Cancel requests, and the migration that added them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from pauta.core.errors import StoreError
from pauta.core.states import FlowRunState
from pauta.store import migrations
from pauta.store.db import create_engine
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _run(run_id: str, state: FlowRunState) -> FlowRunRecord:
    return FlowRunRecord(
        id=run_id,
        flow="f",
        state=state,
        params={},
        logical_date=T0,
        interval_start=T0,
        interval_end=T0,
        trigger="manual",
        created_at=T0,
        lease_epoch=1,
    )


def test_a_queued_run_is_cancelled_at_once(store: Store) -> None:
    store.create_flow_run(_run("queued0000000001", FlowRunState.QUEUED))
    cancelled = store.request_cancel("queued0000000001", T0)
    assert cancelled.state == FlowRunState.CANCELLED
    assert cancelled.ended_at == T0
    assert store.cancel_requests(["queued0000000001"]) == set()


def test_a_running_run_is_marked_for_its_driver(store: Store) -> None:
    store.create_flow_run(_run("running000000001", FlowRunState.RUNNING))
    store.create_flow_run(_run("running000000002", FlowRunState.RUNNING))
    marked = store.request_cancel("running000000001", T0)
    assert marked.state == FlowRunState.RUNNING
    assert marked.cancel_requested_at == T0
    assert store.cancel_requests(["running000000001", "running000000002"]) == {"running000000001"}
    # the driver ends it; reopening it later clears the request
    assert store.transition_flow_run(
        "running000000001", FlowRunState.CANCELLED, expected=FlowRunState.RUNNING, now=T0
    )
    assert store.transition_flow_run(
        "running000000001", FlowRunState.RUNNING, expected=FlowRunState.CANCELLED, now=T0
    )
    assert store.get_flow_run("running000000001").cancel_requested_at is None


def test_an_ended_run_cannot_be_cancelled(store: Store) -> None:
    store.create_flow_run(_run("done000000000001", FlowRunState.SUCCEEDED))
    with pytest.raises(StoreError, match="already ended SUCCEEDED"):
        store.request_cancel("done000000000001", T0)


def test_upgrading_from_the_first_schema_keeps_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrations.config(connection=conn), "0001")
        conn.execute(
            sa.text(
                "INSERT INTO flow_runs (id, flow, state, params, logical_date, interval_start, "
                "interval_end, trigger, code_hash, flow_ref, priority, tags, created_at, "
                "lease_epoch) VALUES ('old0000000000001', 'f', 'SUCCEEDED', '{}', "
                "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', "
                "'2026-01-01 00:00:00.000000', 'manual', '', '{}', 0, '[]', "
                "'2026-01-01 00:00:00.000000', 1)"
            )
        )
    engine.dispose()
    with Store(url) as store:
        run = store.get_flow_run("old0000000000001")
        assert run.state == FlowRunState.SUCCEEDED
        assert run.cancel_requested_at is None
