"""``trigger_flow``: queue a separate run of another flow from inside a flow, and wait for it.

Unlike a child flow (which runs inside its caller, on the caller's workers), a triggered run is
QUEUED for any worker to claim, like ``pauta trigger``. The call is a sensor: waiting holds no
worker process and no capacity, so a single worker drives both runs. The triggered run records
the call that made it (``triggered_by``, ``triggered_by_key``), which is how a retry or a resume
of the caller finds it again instead of queueing a second one, and how the UI links both ways.
It is no child run: workers claim, resume and retry it like any other.
It covers the parent's data interval (the same logical date), so sensors and reports keyed on
the date see the two runs together.

The value is the triggered run's id. With ``wait=True`` (the default) the call waits until that
run ends and fails when it does not succeed, naming its state and error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pauta.core.errors import DefinitionError, PautaError
from pauta.core.loading import load_file
from pauta.core.states import FLOW_TERMINAL, FlowRunState
from pauta.definitions.flow import Flow
from pauta.sensors import (
    DEFAULT_POKE_INTERVAL,
    DEFAULT_TIMEOUT,
    PokeContext,
    Sensor,
    _sensor_task,
    _timing,
)
from pauta.store.creation import Interval, identity, new_flow_run
from pauta.store.records import FlowRunRecord


class TriggeredRunFailed(PautaError):
    """A run queued by ``trigger_flow(..., wait=True)`` ended without succeeding."""


@dataclass(frozen=True, slots=True)
class FlowTrigger(Sensor):
    """Queue a run of ``flow`` once, then (with ``wait``) poke until it ends."""

    flow: str = ""
    source: str | None = None  # the file to load the flow from; None: the flows table's row
    params: tuple[tuple[str, Any], ...] = ()
    wait: bool = True
    kind = "trigger_flow"

    def poke(self, ctx: PokeContext) -> str | None:
        run = self._triggered(ctx) or self._queue(ctx)
        if not self.wait:
            return run.id
        if run.state not in FLOW_TERMINAL:
            return None
        if run.state != FlowRunState.SUCCEEDED:
            error = run.error or {}
            reason = f": {error.get('type')}: {error.get('message')}" if error else ""
            raise TriggeredRunFailed(
                f"the triggered run {run.id} of flow {self.flow!r} ended {run.state}{reason}; "
                f"see `pauta runs show {run.id}`"
            )
        return run.id

    def describe(self) -> str:
        return f"trigger_flow {self.flow}"

    def timeout_message(self) -> str:
        return (
            f"trigger_flow {self.flow!r}: the triggered run did not end within "
            f"{self.timeout:g}s (it goes on; the waiting call gave up)"
        )

    # -- once per call --------------------------------------------------------------------------
    def _triggered(self, ctx: PokeContext) -> FlowRunRecord | None:
        """The run this call queued already (an earlier poke, attempt or replay), if any."""
        if not ctx.run_id:
            return None
        for run in ctx.store.list_flow_runs(triggered_by=ctx.run_id, limit=0):
            if run.triggered_by_key == ctx.key and run.flow == self.flow:
                return run
        return None

    def _queue(self, ctx: PokeContext) -> FlowRunRecord:
        flow = self._load(ctx.store)
        values = flow.parameters.validate_input(dict(self.params))
        record = new_flow_run(
            identity(flow),
            flow.parameters.to_json(values),
            now=ctx.clock.now(),
            trigger="flow",
            interval=Interval(
                ctx.logical_date, ctx.interval_start or ctx.logical_date, ctx.interval_end
            ),
            triggered_by=(ctx.run_id, ctx.key) if ctx.run_id else None,
        )
        return ctx.store.create_flow_run(record)

    def _load(self, store: Any) -> Flow[Any, Any]:
        source = self.source
        if source is None:
            row = store.get_flow(self.flow)
            source = (row or {}).get("source")
            if not source:
                raise DefinitionError(
                    f"trigger_flow: no flow named {self.flow!r} is known to the store (flows "
                    "are recorded when the server or a worker discovers the flows folder); "
                    "pass the flow object itself, trigger_flow(my_flow, ...)"
                )
        module = load_file(source)
        for value in vars(module).values():
            if isinstance(value, Flow) and value.name == self.flow:
                return value
        raise DefinitionError(f"trigger_flow: {source} no longer defines flow {self.flow!r}")


trigger_flow_sensor = _sensor_task("trigger_flow")


def trigger_flow(
    flow: Flow[Any, Any] | str,
    params: dict[str, Any] | None = None,
    *,
    wait: bool = True,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Queue a run of ``flow`` (a flow or a flow's name) with ``params`` for the workers.

    Inside a flow this is a task call (a future of the triggered run's id); with ``wait`` it
    ends when that run ends, and fails unless it succeeded. Outside a flow it queues the run
    and, with ``wait``, blocks until it ends.
    """
    if isinstance(flow, Flow):
        name = flow.name
        source = _source_of(flow)
    elif isinstance(flow, str) and flow:
        name, source = flow, None
    else:
        raise DefinitionError("trigger_flow: give a flow, or the name of a flow")
    if params is not None and not isinstance(params, dict):
        raise DefinitionError("trigger_flow: params must be a dict of the flow's parameters")
    if isinstance(flow, Flow):
        # bad parameters fail here, in the caller's body, not in a sensor minutes later
        flow.parameters.validate_input(dict(params or {}))
    interval, limit = _timing(poke_interval, timeout, "trigger_flow")
    sensor = FlowTrigger(
        interval,
        limit,
        name,
        source,
        tuple(sorted((params or {}).items())),
        bool(wait),
    )
    return trigger_flow_sensor(sensor)


def _source_of(flow: Flow[Any, Any]) -> str | None:
    import sys

    module = sys.modules.get(flow.fn.__module__)
    path = getattr(module, "__file__", None)
    return str(path) if path else None


__all__ = ["FlowTrigger", "TriggeredRunFailed", "trigger_flow"]
