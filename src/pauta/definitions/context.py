"""``context()``: what a flow body or a task knows about the run it is part of.

Outside a run, ``context()`` returns a local context (no run id, logger to stderr, metrics
ignored) so tasks stay testable as plain functions. The engine (for flow bodies) and the
executors (for tasks) set the current context with ``use_context``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pauta.core.clock import utcnow
from pauta.core.errors import PautaError

if TYPE_CHECKING:
    import logging

MetricSink = Callable[[str, float, "int | None"], None]
ArtifactSink = Callable[[str, Any], None]
ParamSink = Callable[[str, str], None]
ModelSink = Callable[[str, str], int]
_PARAM_VALUE_MAX = 6000  # MLflow's limit on a param's value


@dataclass(frozen=True, slots=True)
class Interval:
    """A data interval [start, end). For runs started by hand both ends are the trigger time."""

    start: datetime
    end: datetime


@dataclass(slots=True)
class Context:
    """The run a piece of code belongs to.

    ``attempt`` is the task attempt number (1 for the first try; 0 in a flow body).
    ``log_metric`` records a metric on the current task run (ignored outside a run).
    """

    run_id: str | None
    flow_name: str | None
    params: dict[str, Any]
    logical_date: datetime
    interval: Interval
    attempt: int = 0
    task_name: str | None = None
    task_key: str | None = None
    trigger: str = "manual"
    metric_sink: MetricSink | None = field(default=None, repr=False)
    artifact_sink: ArtifactSink | None = field(default=None, repr=False)
    param_sink: ParamSink | None = field(default=None, repr=False)
    model_sink: ModelSink | None = field(default=None, repr=False)

    @property
    def logger(self) -> logging.Logger:
        """A logger whose lines go to the task's (or flow run's) log."""
        from pauta.definitions.tasklog import task_logger

        return task_logger()

    @property
    def in_run(self) -> bool:
        return self.run_id is not None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record a numeric metric (e.g. accuracy) for this task run."""
        if not isinstance(name, str) or not name:
            raise ValueError("a metric needs a non-empty name")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"metric {name!r} must be a number, got {type(value).__name__}: {value!r}"
            ) from None
        if self.metric_sink is not None:
            self.metric_sink(name, number, step)

    def log_artifact(self, name: str, value: Any) -> None:
        """Keep an artifact of this task run: a file (pass its path) or any object (a plot, a
        report, a model card). It is stored with the run and listed by `pauta runs show`.
        Ignored outside a run."""
        if not isinstance(name, str) or not name:
            raise ValueError("an artifact needs a non-empty name")
        if self.artifact_sink is not None:
            self.artifact_sink(name, value)

    def log_param(self, name: str, value: Any) -> None:
        """Record a parameter of this task run (a hyperparameter, a data version), as text.
        Mirrored to the task's MLflow run when ``PAUTA_MLFLOW_TRACKING_URI`` is set; ignored
        outside a run."""
        if not isinstance(name, str) or not name:
            raise ValueError("a param needs a non-empty name")
        text = value if isinstance(value, str) else repr(value)
        if len(text) > _PARAM_VALUE_MAX:
            raise ValueError(
                f"param {name!r} is {len(text)} characters long; at most {_PARAM_VALUE_MAX} "
                "fit (log a long value with log_artifact)"
            )
        if self.param_sink is not None:
            self.param_sink(name, text)

    def register_model(self, name: str, path_or_uri: str | os.PathLike[str]) -> int:
        """Register a model version in MLflow's registry and move the alias ``champion`` to
        it; returns the version number. ``path_or_uri`` is a file or folder, the name of an
        artifact this task logged, or a URI MLflow knows (``runs:/...``, ``models:/...``).
        Needs ``PAUTA_MLFLOW_TRACKING_URI`` and MLflow reachable."""
        if not isinstance(name, str) or not name:
            raise ValueError("a registered model needs a non-empty name")
        if self.model_sink is None:
            from pauta.core.settings import mlflow_tracking_uri

            if mlflow_tracking_uri() is None:
                raise PautaError(
                    f"register_model({name!r}) needs an MLflow server: set "
                    "PAUTA_MLFLOW_TRACKING_URI (for example http://127.0.0.1:5000) and "
                    "install pauta[mlflow]"
                )
            raise PautaError(
                f"register_model({name!r}) registers what a task made: call it inside a "
                "@task of a flow run, not in a flow body or outside a run"
            )
        return self.model_sink(name, os.fspath(path_or_uri))


_current: ContextVar[Context | None] = ContextVar("pauta_context", default=None)


def local_context() -> Context:
    """The context of code that runs outside any flow run."""
    now = utcnow()
    return Context(
        run_id=None,
        flow_name=None,
        params={},
        logical_date=now,
        interval=Interval(now, now),
    )


def context() -> Context:
    """The current run's context, or a local one outside a run."""
    current = _current.get()
    return current if current is not None else local_context()


def current_context() -> Context | None:
    """The context set by the engine or an executor, if any."""
    return _current.get()


@contextmanager
def use_context(ctx: Context) -> Iterator[Context]:
    """Make ``ctx`` the current context for the duration of the block."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
