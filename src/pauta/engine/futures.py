"""``TaskFuture``: the handle a flow body gets when it calls a task."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pauta.core.states import State

if TYPE_CHECKING:
    import asyncio

    from pauta.engine.calls import TaskCall

R = TypeVar("R")


class TaskFuture(Generic[R]):
    """A task call that may not have finished yet.

    ``result()`` blocks for the value (raising ``TaskFailed`` when the call failed),
    ``wait()`` blocks without raising, ``state`` tells where the call is. Any of the three
    counts as the flow body having looked at the call, so its failure is not silent.
    """

    __slots__ = ("_call",)

    def __init__(self, call: TaskCall) -> None:
        self._call = call

    @property
    def key(self) -> str:
        """The call's replay key, unique in the run (``train-1``)."""
        return self._call.key

    @property
    def name(self) -> str:
        return self._call.name

    @property
    def state(self) -> State:
        """The call's current state."""
        self._call.observed = True
        return self._call.state

    def done(self) -> bool:
        """True once the call reached a final state."""
        return self._call.done

    def wait(self, timeout: float | None = None) -> TaskFuture[R]:
        """Block until the call finishes (or ``timeout`` seconds pass); never raises."""
        self._call.observed = True
        self._call.run.wait_for(self._call, timeout)
        return self

    def result(self, timeout: float | None = None) -> R:
        """The call's return value; raises ``TaskFailed`` if it failed or was skipped."""
        self._call.observed = True
        if not self._call.run.wait_for(self._call, timeout):
            raise TimeoutError(f"task {self.key!r} did not finish within {timeout} s")
        return self._call.value()  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, None, R]:
        self._call.observed = True
        if not self._call.done:
            import asyncio  # loaded already: awaiting happens inside a running event loop

            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                loop.call_soon_threadsafe(_set_if_pending, waiter)

            self._call.add_done_callback(wake)
            yield from waiter.__await__()
        return self._call.value()  # type: ignore[no-any-return]

    def __bool__(self) -> bool:
        raise TypeError(
            f"the truth value of a TaskFuture ({self.key}) is ambiguous: call .result() to use "
            "the task's return value, or check .state"
        )

    def __repr__(self) -> str:
        return f"<TaskFuture {self.key} {self._call.state}>"


def map_futures(value: Any, fn: Any) -> Any:
    """``value`` with each future in it (also inside lists, tuples and dicts) replaced by
    ``fn(future)``; other values, and containers of other types, are returned as they are."""
    kind = type(value)
    if kind is TaskFuture:
        return fn(value)
    if kind is list:
        return [map_futures(v, fn) for v in value]
    if kind is tuple:
        return tuple(map_futures(v, fn) for v in value)
    if kind is dict:
        return {k: map_futures(v, fn) for k, v in value.items()}
    return value


_SEQUENCES = (list, tuple, set, frozenset)


def find_futures(value: Any) -> list[TaskFuture[Any]]:
    """Futures in ``value``, also inside lists, tuples, sets and dicts, in order."""
    found: list[TaskFuture[Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is TaskFuture:
            found.append(item)
        elif kind in _SEQUENCES or isinstance(item, _SEQUENCES):
            stack.extend(item)
        elif kind is dict or isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    found.reverse()
    return found


def resolve_futures(value: Any) -> Any:
    """``value`` with every future (also inside lists, tuples and dicts) replaced by its result."""
    if isinstance(value, TaskFuture):
        return value.result()
    if isinstance(value, list):
        return [resolve_futures(v) for v in value]
    if isinstance(value, tuple):
        items = [resolve_futures(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {k: resolve_futures(v) for k, v in value.items()}
    return value


def _set_if_pending(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
