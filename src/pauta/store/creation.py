"""The one way a flow run record comes into being.

`pauta run`, child flows, `pauta trigger` and the API, the scheduler, backfills and event
triggers all create runs here, from what they know of the flow (a ``FlowIdentity``: a loaded
``Flow`` or a flow discovered in a file without importing it). Parameters arrive validated and
in their JSON form: what is stored is what every task and resume sees.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from pauta.core.ids import new_run_id
from pauta.core.states import FlowRunState
from pauta.definitions.deadlines import Deadline
from pauta.store.records import FlowRunRecord

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow


class FlowIdentity(NamedTuple):
    """What a run records of its flow: its name, how to find it again, its run options."""

    name: str
    flow_ref: dict[str, Any]
    priority: int = 0
    tags: tuple[str, ...] = ()
    code_hash: str = ""
    deadline: Deadline | None = None


class Driver(NamedTuple):
    """The process that drives a run from its creation (``pauta run``, a parent flow)."""

    host: str
    pid: int


class Parent(NamedTuple):
    """The run and call a child flow run belongs to."""

    run_id: str
    key: str
    trigger: str


class Interval(NamedTuple):
    """The data interval of a run: its logical date and the period it covers."""

    logical_date: datetime
    start: datetime
    end: datetime

    @classmethod
    def at(cls, moment: datetime) -> Interval:
        return cls(moment, moment, moment)


def new_flow_run(
    flow: FlowIdentity,
    params_json: dict[str, Any],
    *,
    now: datetime,
    trigger: str = "manual",
    interval: Interval | None = None,
    schedule_key: str | None = None,
    parent: Parent | None = None,
    driver: Driver | None = None,
    triggered_by: tuple[str, str] | None = None,
) -> FlowRunRecord:
    """A new run record: QUEUED for a worker to claim, or RUNNING (lease epoch 1) when
    ``driver`` drives it from the start. A child run takes its parent's trigger;
    ``triggered_by`` (run id, call key) names the trigger_flow call that queued a run."""
    interval = interval or Interval.at(now)
    record = FlowRunRecord(
        id=new_run_id(),
        flow=flow.name,
        state=FlowRunState.QUEUED,
        params=params_json,
        logical_date=interval.logical_date,
        interval_start=interval.start,
        interval_end=interval.end,
        trigger=parent.trigger if parent is not None else trigger,
        created_at=now,
        flow_ref=flow.flow_ref,
        code_hash=flow.code_hash,
        schedule_key=schedule_key,
        parent_run_id=parent.run_id if parent is not None else None,
        parent_key=parent.key if parent is not None else None,
        triggered_by=triggered_by[0] if triggered_by is not None else None,
        triggered_by_key=triggered_by[1] if triggered_by is not None else None,
        priority=flow.priority,
        tags=list(flow.tags),
    )
    if flow.deadline is not None:
        record.deadline_at = flow.deadline.due(
            logical_date=record.logical_date, queued_at=now, trigger=record.trigger
        )
        record.deadline_cancel = flow.deadline.cancel
    if driver is not None:
        record.state = FlowRunState.RUNNING
        record.started_at = record.heartbeat_at = now
        record.driver_host, record.driver_pid = driver.host, driver.pid
        record.lease_epoch = 1
    return record


def flow_ref(flow: Flow[Any, Any]) -> dict[str, Any]:
    """How to find this flow again when the run is resumed by another process."""
    module = flow.fn.__module__
    path = getattr(sys.modules.get(module), "__file__", None)
    return {"module": module, "qualname": flow.fn.__qualname__, "path": path, "cwd": os.getcwd()}


def identity(flow: Flow[Any, Any]) -> FlowIdentity:
    """What a run records of a loaded flow."""
    options = flow.options
    return FlowIdentity(
        flow.name,
        flow_ref(flow),
        options.priority,
        tuple(options.tags),
        flow.code_hash,
        deadline=options.deadline,
    )
