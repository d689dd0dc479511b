"""Arguments of a task call as bytes for a worker: futures become result placeholders."""

from __future__ import annotations

import functools
import io
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

from pauta.core.errors import CycleError, PautaError
from pauta.engine.futures import TaskFuture, map_futures
from pauta.executors.base import ResultPlaceholder

_EMPTY = pickle.dumps(((), {}), protocol=5)


def _none() -> None:
    return None


def _placeholder(
    future: TaskFuture[Any], *, key: str, missing_as_none: bool = False
) -> ResultPlaceholder | None:
    call = future._call
    if call.stored is not None:
        return ResultPlaceholder(call.stored)
    if missing_as_none and call.done and not call.ok:
        return None  # a teardown call gets None for what failed
    # Dependencies are read from the arguments when the task is called: a future that shows up
    # only now was added afterwards, or hidden where pauta does not look.
    if call.key == key:
        raise CycleError(
            f"task {key!r} depends on its own result: its future was put into one of its own "
            "arguments after the call (appended to a list or set as an attribute of an object "
            "passed to it), a cycle that can never resolve; a task can only take values and "
            "futures that exist when it is called"
        )
    raise PautaError(
        f"task {key!r} was given the future of {call.key!r}, which has not finished: the "
        "future is hidden where pauta does not look for dependencies (inside an object) or was "
        "added to an argument after the call; pass the future itself or in a list, tuple or "
        "dict when calling the task, or pass its .result()"
    )


class _ArgsPickler(cloudpickle.Pickler):
    def __init__(
        self, file: io.BytesIO, placeholder: Callable[[Any], ResultPlaceholder | None]
    ) -> None:
        super().__init__(file, protocol=5)
        self._placeholder = placeholder

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, TaskFuture):
            placeholder = self._placeholder(obj)
            if placeholder is None:
                return (_none, ())
            return (ResultPlaceholder, (placeholder.result,))
        return super().reducer_override(obj)


def dump_args(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    key: str = "",
    missing_as_none: bool = False,
) -> bytes:
    """``(args, kwargs)`` of the call ``key`` pickled for a worker, each future replaced by its
    stored result.

    Plain pickle (fast, in C) handles data and importable objects; closures, lambdas and
    futures hidden inside other objects go through cloudpickle.
    """
    if not args and not kwargs:
        return _EMPTY
    placeholder = functools.partial(_placeholder, key=key, missing_as_none=missing_as_none)
    try:
        return pickle.dumps(
            (map_futures(args, placeholder), map_futures(kwargs, placeholder)), protocol=5
        )
    except (pickle.PicklingError, TypeError, AttributeError):
        buffer = io.BytesIO()
        _ArgsPickler(buffer, placeholder).dump((args, kwargs))
        return buffer.getvalue()
