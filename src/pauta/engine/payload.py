"""Arguments of a task call as bytes for a worker: futures become result placeholders."""

from __future__ import annotations

import io
import pickle
from typing import Any

import cloudpickle

from pauta.engine.futures import TaskFuture, map_futures
from pauta.executors.base import ResultPlaceholder

_EMPTY = pickle.dumps(((), {}), protocol=5)


def _placeholder(future: TaskFuture[Any]) -> ResultPlaceholder:
    call = future._call
    if call.stored is None:
        raise RuntimeError(f"task {call.key!r} has no stored result to pass on")
    return ResultPlaceholder(call.stored)


class _ArgsPickler(cloudpickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, TaskFuture):
            return (ResultPlaceholder, (_placeholder(obj).result,))
        return super().reducer_override(obj)


def dump_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """``(args, kwargs)`` pickled for a worker, each future replaced by its stored result.

    Plain pickle (fast, in C) handles data and importable objects; closures, lambdas and
    futures hidden inside other objects go through cloudpickle.
    """
    if not args and not kwargs:
        return _EMPTY
    try:
        return pickle.dumps(
            (map_futures(args, _placeholder), map_futures(kwargs, _placeholder)), protocol=5
        )
    except (pickle.PicklingError, TypeError, AttributeError):
        buffer = io.BytesIO()
        _ArgsPickler(buffer, protocol=5).dump((args, kwargs))
        return buffer.getvalue()
