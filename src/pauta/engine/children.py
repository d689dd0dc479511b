"""Child flows: a flow called inside a running flow runs as its own run, linked to the parent.

In the parent the call is recorded like a task call (kind "flow", keyed by the flow's name and
call count) so a replay of the parent returns a finished child's value without running it
again, and resumes an unfinished child.

A child runs in the thread of its parent's body, so child flows nest on one stack. They may
nest ``max_child_flow_depth`` deep (a setting): a flow that calls itself with no end fails
there with ``ChildFlowDepthError``, which every run of the chain then ends with.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pauta.core.errors import ChildFlowDepthError
from pauta.core.secrets import mask_json
from pauta.core.states import FlowRunState, State
from pauta.definitions.groups import current_group
from pauta.engine.calls import TaskCall
from pauta.engine.commands import ExternalProgress
from pauta.engine.fingerprint import fingerprint
from pauta.engine.runs import drive, new_run_record, take_over

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.engine.replay import RunDriver
    from pauta.store.records import FlowRunRecord

# The names of the flows whose bodies are running in this thread, outermost first, while a
# child flow runs (empty in a top-level run's body).
_chain: ContextVar[tuple[str, ...]] = ContextVar("pauta_child_flow_chain", default=())
# frames kept free for what ends the deepest run (unwinding, recording it in the store)
_STACK_MARGIN = 300


def run_child_flow(parent: RunDriver, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
    """Run ``flow`` as a child of ``parent`` and return its value (raise FlowFailed on failure)."""
    parent.check_alive()
    engine = parent.engine
    chain = (*(_chain.get() or (parent.flow.name,)), flow.name)
    limit = engine.settings.max_child_flow_depth
    if len(chain) - 1 > limit:
        raise ChildFlowDepthError(
            f"flow {parent.flow.name!r} calls child flows more than {limit} deep "
            f"(PAUTA_MAX_CHILD_FLOW_DEPTH): {_shown(chain)}; a flow that calls itself needs a "
            "condition that ends the recursion (or raise the limit)"
        )
    if _frames_left() < _STACK_MARGIN:
        # before Python's RecursionError, which could strike while a run is being recorded
        raise ChildFlowDepthError(
            f"flow {parent.flow.name!r} calls child flows {len(chain) - 1} deep, more than "
            f"Python's stack holds (recursion limit {sys.getrecursionlimit()}): "
            f"{_shown(chain)}; lower PAUTA_MAX_CHILD_FLOW_DEPTH, or make the recursion end sooner"
        )
    key = parent.next_key(flow.name)
    params_json = flow.parameters.to_json(params)
    call = TaskCall(
        parent.state,
        key,
        None,
        flow.name,
        fingerprint=fingerprint(flow.name, (), params_json),
        kind="flow",
        created_at=engine.clock.now(),
        group=current_group(),
    )
    call.observed = True  # the body gets the child's outcome (or exception) directly
    parent.add_call(call)
    if call.done:
        return call.value()
    record: FlowRunRecord | None = None
    ended = False
    token = _chain.set(chain)
    try:
        if call.child_run_id:
            record = take_over(
                engine, engine.store.get_flow_run(call.child_run_id), flow, force=True
            )
            recorded = engine.store.task_runs_by_key(record.id)
        else:
            # stored and shown masked, as everything else a secret reaches; the child's body
            # still gets the real values (``params``)
            record = new_run_record(
                flow, mask_json(params_json), now=engine.clock.now(), parent=parent, parent_key=key
            )
            engine.store.create_flow_run(record)
            recorded = None
            call.child_run_id = record.id
        engine.post(ExternalProgress(call, State.RUNNING))
        child = parent.child(flow, record, params, recorded=recorded)
        run = drive(child)
        if run.state == FlowRunState.SUCCEEDED:
            stored = engine.store.get_flow_run(run.id).result
            call.set_value(run.value)
            engine.post(ExternalProgress(call, State.SUCCEEDED, stored))
            ended = True
            return run.value
        state = State.CANCELLED if run.state == FlowRunState.CANCELLED else State.FAILED
        error = dict(run.error or {})
        error.setdefault("type", "FlowFailed")
        error["message"] = f"child flow run {run.id} ended {run.state}: {error.get('message', '')}"
        engine.post(ExternalProgress(call, state, error))
        ended = True
    except BaseException as exc:
        # Whatever stopped the child (Ctrl-C, a lost lease, a crash in pauta), its run and the
        # parent's call of it must end: the parent waits for every call before it ends.
        if not ended:
            _end_abruptly(parent, call, record, exc)
        raise
    finally:
        _chain.reset(token)
    if run.state == FlowRunState.CANCELLED and not engine.store.cancel_requests([run.id]):
        # Ctrl-C, caught by the child's driver: it stops the whole chain, not just the child
        raise KeyboardInterrupt
    if (run.error or {}).get("type") == ChildFlowDepthError.__name__:
        # every run of a runaway recursion ends with the error that names its cause
        raise ChildFlowDepthError(run.error["message"])  # type: ignore[index]
    raise run.failure()


def _end_abruptly(
    parent: RunDriver, call: TaskCall, record: FlowRunRecord | None, exc: BaseException
) -> None:
    engine = parent.engine
    interrupted = isinstance(exc, KeyboardInterrupt)
    error = (
        {"type": "Cancelled", "message": "the run was cancelled"}
        if interrupted
        else {"type": type(exc).__name__, "message": str(exc)}
    )
    if record is not None:
        now = engine.clock.now()
        # the exception that stopped the child is the one to raise, not a failure to record it
        with suppress(Exception):
            engine.store.transition_flow_run(
                record.id,
                FlowRunState.CANCELLED if interrupted else FlowRunState.FAILED,
                expected=FlowRunState.RUNNING,
                epoch=record.lease_epoch,
                now=now,
                ended_at=now,
                error=error,
            )
    if not call.done:
        state = State.CANCELLED if interrupted else State.FAILED
        engine.post(ExternalProgress(call, state, error))


def _frames_left() -> int:
    """How many more Python frames this thread may stack before a RecursionError."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return sys.getrecursionlimit() - depth


def _shown(chain: tuple[str, ...]) -> str:
    """``rec → rec → rec → … → rec (33 flows)``: a long chain by its ends."""
    if len(chain) <= 8:
        return " → ".join(chain)
    return f"{' → '.join(chain[:4])} → … → {' → '.join(chain[-2:])} ({len(chain)} flows)"
