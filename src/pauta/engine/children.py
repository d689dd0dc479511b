"""Child flows: a flow called inside a running flow runs as its own run, linked to the parent.

In the parent the call is recorded like a task call (kind "flow", keyed by the flow's name and
call count) so a replay of the parent returns a finished child's value without running it
again, and resumes an unfinished child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pauta.core.secrets import mask_json
from pauta.core.states import FlowRunState, State
from pauta.engine.calls import TaskCall
from pauta.engine.fingerprint import call_key, fingerprint
from pauta.engine.lifecycle import drive, new_run_record, take_over

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.engine.driver import RunDriver


def run_child_flow(parent: RunDriver, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
    """Run ``flow`` as a child of ``parent`` and return its value (raise FlowFailed on failure)."""
    parent.check_alive()
    engine = parent.engine
    key = call_key(flow.name, parent._next_count(flow.name))
    params_json = flow.parameters.to_json(params)
    call = TaskCall(
        parent,
        key,
        None,
        flow.name,
        fingerprint=fingerprint(flow.name, (), params_json),
        kind="flow",
        created_at=engine.clock.now(),
    )
    call.observed = True  # the body gets the child's outcome (or exception) directly
    parent.add_call(call)
    if call.done:
        return call.value()
    if call.child_run_id:
        record = take_over(engine, engine.store.get_flow_run(call.child_run_id), flow, force=True)
        recorded = engine.store.task_runs_by_key(record.id)
    else:
        # stored and shown masked, as everything else a secret reaches; the child's body still
        # gets the real values (``params``)
        record = new_run_record(
            flow, mask_json(params_json), now=engine.clock.now(), parent=parent, parent_key=key
        )
        engine.store.create_flow_run(record)
        recorded = None
        call.child_run_id = record.id
    engine.post("external", (call, (State.RUNNING, None)))
    child = type(parent)(engine, flow, record, params, recorded=recorded)
    run = drive(child)
    if run.state == FlowRunState.SUCCEEDED:
        stored = engine.store.get_flow_run(run.id).result
        call.set_value(run.value)
        engine.post("external", (call, (State.SUCCEEDED, stored)))
        return run.value
    state = State.CANCELLED if run.state == FlowRunState.CANCELLED else State.FAILED
    error = dict(run.error or {})
    error.setdefault("type", "FlowFailed")
    error["message"] = f"child flow run {run.id} ended {run.state}: {error.get('message', '')}"
    engine.post("external", (call, (state, error)))
    raise run.failure()
