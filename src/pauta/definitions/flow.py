"""``@flow``: a Python function whose body drives tasks.

Calling a flow outside a run runs it to completion and returns the body's value; inside a
running flow it runs as a child flow run. ``my_flow.run(**params)`` returns the ``FlowRun``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from pauta.core.errors import DefinitionError
from pauta.definitions.deadlines import Deadline
from pauta.definitions.options import FlowOptions
from pauta.definitions.runtime import active_run, default_runner

if TYPE_CHECKING:
    from pauta.definitions.params import ParameterSchema

P = ParamSpec("P")
R = TypeVar("R")


class Flow(Generic[P, R]):
    """A flow definition."""

    def __init__(self, fn: Callable[P, R], options: FlowOptions) -> None:
        self.fn = fn
        self.options = options
        self.name = options.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self._schema: ParameterSchema | None = None
        functools.update_wrapper(self, fn)

    @property
    def description(self) -> str:
        return self.options.description

    @property
    def parameters(self) -> ParameterSchema:
        """The parameter schema read from the function's signature and type hints."""
        if self._schema is None:
            # pydantic is imported only when parameters are validated: importing pauta (and
            # every warm worker that imports a flow module) stays fast.
            from pauta.definitions.params import ParameterSchema

            self._schema = ParameterSchema(self.fn, self.name)
        return self._schema

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Validated parameter values for a Python call."""
        from pauta.definitions.params import bind_call

        return self.parameters.validate(bind_call(self.parameters, args, kwargs))

    @property
    def code_hash(self) -> str:
        """A hash of the flow body's source: a replay refuses to mix runs of different code."""
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = self.fn.__code__.co_code.hex()
        return hashlib.sha256(source.encode()).hexdigest()[:16]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        params = self.bind(args, kwargs)
        run = active_run()
        if run is not None:
            return run.call_flow(self, params)  # type: ignore[no-any-return]
        return default_runner().call(self, params)  # type: ignore[no-any-return]

    def run(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Run to completion and return the ``FlowRun`` record (id, state, tasks)."""
        return default_runner().run(self, self.bind(args, kwargs))

    def __repr__(self) -> str:
        return f"<Flow {self.name}>"


def _check_trigger_params(fn: Callable[..., Any], options: FlowOptions) -> None:
    """A file trigger passes the file's path as a parameter: the flow must take it."""
    names = inspect.signature(fn).parameters
    for trigger in options.triggers:
        param = getattr(trigger, "param", None)
        if param is not None and param not in names:
            raise DefinitionError(
                f"@flow {options.name!r}: {trigger.describe()} passes the file's path as "
                f"parameter {param!r}, which the flow does not take; add a parameter "
                f"`{param}: str` or name another with on_file(..., param=...)"
            )


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    schedule: Any = None,
    timezone: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    catchup: bool = False,
    max_active_runs: int | None = None,
    max_active_tasks: int | None = None,
    priority: int = 0,
    retries: int = 0,
    timeout: float | timedelta | None = None,
    deadline: timedelta | float | Deadline | None = None,
    on_success: Any = None,
    on_failure: Any = None,
    tags: Sequence[str] = (),
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a function into a flow: ``@flow`` or ``@flow(schedule="0 3 * * MON", ...)``."""

    def decorate(func: Callable[..., Any]) -> Flow[Any, Any]:
        if isinstance(func, Flow):
            raise DefinitionError(f"{func.name} is already a flow: apply @flow once")
        name = options.pop("name", None) or func.__name__
        description = inspect.cleandoc(func.__doc__ or "")
        built = FlowOptions.build(name, description, **options)
        _check_trigger_params(func, built)
        return Flow(func, built)

    if fn is not None:
        return decorate(fn)
    return decorate
