"""``@task``: a function that becomes a step of a flow.

Outside a flow run a task is its plain function. Inside a flow body, calling it submits a call
to the run and returns a ``TaskFuture`` at once; passing futures as arguments makes dependency
edges.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from pauta.core.errors import DefinitionError
from pauta.core.resources import Resources
from pauta.definitions.labels import check_label
from pauta.definitions.options import TaskOptions
from pauta.definitions.runtime import active_run

P = ParamSpec("P")
R = TypeVar("R")


class Task(Generic[P, R]):
    """A task definition. Call it like the function it wraps."""

    def __init__(self, fn: Callable[P, R], options: TaskOptions) -> None:
        check_label(options.label, fn, f"@task {options.name!r}")
        self.fn = fn
        self.options = options
        self.name = options.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self._accepts_wait_for = "wait_for" in inspect.signature(fn).parameters
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Inside a flow: submit and return a ``TaskFuture``. Outside: call the function."""
        run = active_run()
        if run is None:
            if not self._accepts_wait_for:
                kwargs.pop("wait_for", None)
            return self.fn(*args, **kwargs)
        wait_for = () if self._accepts_wait_for else kwargs.pop("wait_for", None) or ()
        return run.submit(self, args, kwargs, _as_sequence(wait_for))  # type: ignore[no-any-return]

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Like calling the task inside a flow; typed to return the future."""
        run = active_run()
        if run is None:
            raise DefinitionError(
                f"{self.name}.submit() works only inside a running flow; call {self.name}(...) "
                "to run the function directly"
            )
        wait_for = () if self._accepts_wait_for else kwargs.pop("wait_for", None) or ()
        return run.submit(self, args, kwargs, _as_sequence(wait_for))

    def map(self, items: Any, /, *, wait_for: Sequence[Any] = (), **common: Any) -> list[Any]:
        """One call per item (the item is the first argument); ``common`` goes to every call.

        ``items`` may be a list or a future of a list; then the list is awaited first. Outside
        a flow this returns the plain results.
        """
        run = active_run()
        if run is None:
            return [self.fn(item, **common) for item in items]  # type: ignore[call-arg]
        return run.map(self, items, common, _as_sequence(wait_for))

    def with_options(self, **options: Any) -> Task[P, R]:
        """A copy of this task with some options changed, checked as ``@task`` checks them.

        ``train.with_options(retries=3, timeout=600)`` runs the same function with more
        retries and a time limit; ``train`` itself is unchanged. Any option ``@task`` takes can
        be given; the others keep their values. A new ``name`` gives the copy's calls keys of their
        own (``build-0`` rather than ``shell-0``) in runs, logs and the UI.
        """
        return Task(self.fn, self.options.replace(f"{self.name}.with_options()", **options))

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


def _as_sequence(wait_for: Any) -> Sequence[Any]:
    if wait_for is None:
        return ()
    if isinstance(wait_for, list | tuple):
        return wait_for
    return (wait_for,)


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float | timedelta = 1.0,
    retry_backoff: float = 2.0,
    retry_jitter: bool = True,
    max_retry_delay: float | timedelta | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    timeout: float | timedelta | None = None,
    resources: Resources | None = None,
    priority: int = 0,
    pool: str | None = None,
    pool_slots: int = 1,
    max_concurrency: int | None = None,
    cache: bool = False,
    cache_key: Callable[..., str] | None = None,
    cache_expiration: float | timedelta | None = None,
    outputs: Sequence[Any] = (),
    executor: str | None = None,
    isolation: str = "process",
    requirements: Sequence[str] = (),
    python: str | None = None,
    image: str | None = None,
    on_success: Any = None,
    on_failure: Any = None,
    on_retry: Any = None,
    tags: Sequence[str] = (),
    label: str | None = None,
    teardown: bool = False,
    latest_only: bool = False,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a function into a task: ``@task`` or ``@task(retries=3, ...)``."""

    def decorate(func: Callable[..., Any]) -> Task[Any, Any]:
        if isinstance(func, Task):
            raise DefinitionError(f"{func.name} is already a task: apply @task once")
        if not callable(func):
            raise DefinitionError("@task decorates a function")
        name = options.pop("name", None) or func.__qualname__.replace(".<locals>", "")
        return Task(func, TaskOptions.build(name, **options))

    if fn is not None:
        return decorate(fn)
    return decorate
