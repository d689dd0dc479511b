"""Cross-run caching: reuse a task's earlier result for the same code and the same inputs.

A call's cache key hashes the task's name, its source code and its inputs by content: literal
arguments by value, and each upstream result by the upstream call's own cache key when it has
one, else by the bytes of a small (inline) result, else by its stored location (so a large
result that nobody cached never matches another run's). ``cache_key=fn`` replaces the inputs
part with ``fn(*args, **kwargs)`` called on the actual values.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import TYPE_CHECKING, Any

from pauta.engine.fingerprint import fingerprint
from pauta.engine.futures import TaskFuture, map_futures

if TYPE_CHECKING:
    from pauta.definitions.task import Task
    from pauta.engine.calls import TaskCall

log = logging.getLogger("pauta.engine")

_code_hashes: dict[int, str] = {}


def code_hash(task: Task[Any, Any]) -> str:
    """A hash of the task function's source: changing the code invalidates its cache."""
    cached = _code_hashes.get(id(task))
    if cached is None:
        try:
            source = inspect.getsource(task.fn)
        except (OSError, TypeError):
            source = task.fn.__code__.co_code.hex()
        cached = _code_hashes[id(task)] = hashlib.sha256(source.encode()).hexdigest()[:16]
    return cached


def _identity(future: TaskFuture[Any]) -> str:
    call = future._call
    if call.cache_key:
        return f"cache:{call.cache_key}"
    stored = call.stored
    if stored is None:
        return "none"
    if stored.inline is not None:
        return "bytes:" + hashlib.blake2b(stored.inline, digest_size=16).hexdigest()
    return f"uri:{stored.uri}"


def cache_key_for(call: TaskCall) -> str | None:
    """The call's cache key, computed once its inputs are ready; None when it cannot be."""
    task = call.task
    assert task is not None
    options = task.options
    if options.cache_key is not None:
        try:
            args = map_futures(call.args, lambda f: f.result())
            kwargs = map_futures(call.kwargs, lambda f: f.result())
            inputs = str(options.cache_key(*args, **kwargs))
        except Exception:
            log.warning("cache_key of task %s failed; running it uncached", call.key, exc_info=True)
            return None
    else:
        args = map_futures(call.args, _identity)
        kwargs = map_futures(call.kwargs, _identity)
        inputs = fingerprint(task.name, args, kwargs)
    text = f"{task.name}\0{code_hash(task)}\0{inputs}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
