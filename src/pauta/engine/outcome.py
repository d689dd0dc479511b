"""How a flow run ends: its state, its value and its error record, from what its body did and
what its calls ended as."""

from __future__ import annotations

import traceback
from typing import Any

from pauta.core.errors import TaskFailed
from pauta.core.states import FlowRunState, State
from pauta.engine.failures import describe, first_root_cause
from pauta.engine.futures import resolve_futures


def run_outcome(
    run: Any, value: Any, error: BaseException | None
) -> tuple[FlowRunState, Any, dict[str, Any] | None]:
    """The end of ``run`` (a ``RunDriver``): lost, timed out, cancelled, failed in its body,
    failed in a call nobody looked at, or succeeded. A teardown's or a skipped call's end is
    shown on the call and decides nothing."""
    if run.lost is not None:
        raise run.lost
    if run.timed_out:
        limit = run.flow.options.timeout
        return (
            FlowRunState.FAILED,
            None,
            {
                "type": "FlowTimeout",
                "message": f"the flow run timed out after {limit:g} s; its remaining tasks "
                "were cancelled",
            },
        )
    if run.cancelling or isinstance(error, KeyboardInterrupt):
        # a deadline with cancel=True says why it cancelled the run
        cancelled = {"type": "Cancelled", "message": "the run was cancelled"}
        return FlowRunState.CANCELLED, None, run.cancel_error or cancelled
    if error is None:
        try:
            value = resolve_futures(value)
        except TaskFailed as exc:
            error = exc
    if error is not None:
        record = _error_record(error, [c.key for c in run.order if c.state == State.FAILED])
        failed_call = run.calls.get(error.key) if isinstance(error, TaskFailed) else None
        root = None
        if failed_call is not None and failed_call.name == error.task:
            root = first_root_cause([failed_call], run.calls)
        if root is not None:
            record["root_cause"] = root
        return FlowRunState.FAILED, None, record
    # a teardown's failure is shown on its call but does not decide the outcome
    unobserved = [
        c
        for c in run.order
        if c.done and not c.ok and not c.observed and not c.teardown and c.state != State.SKIPPED
    ]
    if unobserved:
        keys = [c.key for c in unobserved]
        message = "tasks failed and the flow body never looked at them: " + ", ".join(keys[:20])
        record = {"type": "TaskFailed", "message": message, "failed_tasks": keys}
        root = first_root_cause(unobserved, run.calls)
        if root is not None:
            record["message"] += f"; the first failure: {describe(root)}"
            record["root_cause"] = root
        return FlowRunState.FAILED, None, record
    return FlowRunState.SUCCEEDED, value, None


def _error_record(error: BaseException, failed: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }
    if failed:
        record["failed_tasks"] = failed
    return record
