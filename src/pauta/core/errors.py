"""One exception hierarchy. Messages say what happened, where, and what to do."""

from __future__ import annotations

from typing import Any


class PautaError(Exception):
    """Base class of every error pauta raises on purpose."""


class DefinitionError(PautaError):
    """A flow or task is defined in a way pauta cannot run (bad option, bad signature)."""


class ScheduleError(DefinitionError):
    """A schedule has no tick where one must be: its calendar is closed on every day searched."""


class FlowLoadError(PautaError):
    """A flow file could not be imported or does not define the flow asked for."""


class ParameterError(PautaError):
    """A flow parameter is unknown, missing, or has a value of the wrong type."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class CycleError(PautaError):
    """An explicit dependency would close a cycle."""


class StoreError(PautaError):
    """The metadata store refused or could not perform an operation."""


class StaleWriteError(StoreError):
    """A compare-and-set write found a state other than the one it expected."""


class LeaseLostError(StoreError):
    """Another driver took over this run: this process must stop writing to it."""


class LeaseHeldError(StoreError):
    """The run is driven by a live driver; taking it over needs ``--force``."""


class RunNotFoundError(StoreError):
    """No run has the given id."""


class AmbiguousRunIdError(RunNotFoundError):
    """An id prefix matches several runs."""


class UnknownUserError(StoreError):
    """No user has this name."""


class FlowNotFoundError(StoreError):
    """The store has no flow of this name (flows are recorded when they are discovered)."""


class FlowChangedError(PautaError):
    """A replay found a task call that differs from the one the run recorded."""


class ChildFlowDepthError(PautaError):
    """Child flows nested deeper than the limit (a flow that calls itself with no end)."""


class ResourceError(PautaError):
    """A task asks for more resources than any worker has."""


class SensorTimeout(PautaError):
    """A sensor's condition did not hold within its timeout."""


class TaskFailed(PautaError):
    """A task call failed; raised by ``future.result()``.

    Carries the task name, the call key, the number of attempts made, and the original
    exception's type name, message and traceback text.
    """

    def __init__(
        self,
        task: str,
        key: str,
        *,
        state: str = "FAILED",
        attempts: int = 0,
        error_type: str | None = None,
        error_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.task = task
        self.key = key
        self.state = state
        self.attempts = attempts
        self.error_type = error_type
        self.error_message = error_message
        self.traceback = traceback
        if state == "UPSTREAM_FAILED":
            # the message of an upstream-failed call names the task that failed first
            cause = error_message or "a task it depends on failed"
            text = f"task {key!r} did not run because {cause}"
        elif state == "CANCELLED":
            text = f"task {key!r} was cancelled"
        else:
            plural = "s" if attempts != 1 else ""
            text = f"task {key!r} failed after {attempts} attempt{plural}"
            if error_type:
                text += f": {error_type}: {error_message}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_task_failed,
            (
                self.task,
                self.key,
                self.state,
                self.attempts,
                self.error_type,
                self.error_message,
                self.traceback,
            ),
        )


def _rebuild_task_failed(*args: Any) -> TaskFailed:
    task, key, state, attempts, error_type, error_message, tb = args
    return TaskFailed(
        task,
        key,
        state=state,
        attempts=attempts,
        error_type=error_type,
        error_message=error_message,
        traceback=tb,
    )


class FlowFailed(PautaError):
    """A flow run ended FAILED (or CANCELLED); carries the run id and the failed task keys."""

    def __init__(
        self,
        run_id: str,
        flow: str,
        *,
        state: str = "FAILED",
        failed_tasks: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.flow = flow
        self.state = state
        self.failed_tasks = list(failed_tasks or [])
        self.reason = reason
        text = f"flow run {run_id} of {flow!r} ended {state}"
        if self.failed_tasks:
            shown = ", ".join(self.failed_tasks[:10])
            more = len(self.failed_tasks) - 10
            text += f"; failed tasks: {shown}" + (f" and {more} more" if more > 0 else "")
        if reason:
            text += f"; {reason}"
        text += f" (see `pauta runs show {run_id}`)"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_flow_failed,
            (self.run_id, self.flow, self.state, self.failed_tasks, self.reason),
        )


def _rebuild_flow_failed(*args: Any) -> FlowFailed:
    run_id, flow, state, failed, reason = args
    return FlowFailed(run_id, flow, state=state, failed_tasks=failed, reason=reason)
