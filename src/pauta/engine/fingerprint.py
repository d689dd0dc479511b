"""Replay keys and input fingerprints of task calls.

A call's key is the task name plus its call count in the run (``train-1``), or plus the map
index for mapped calls (``score-0[3]``). Its fingerprint hashes the inputs: upstream calls by
key and literal arguments by value, so a replay can tell when a flow now calls a task with
different inputs than the run recorded.
"""

from __future__ import annotations

import hashlib
import io
import sys
from datetime import date, datetime, time, timedelta
from typing import Any

import cloudpickle

from pauta.engine.futures import TaskFuture

_SCALARS = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    date,
    datetime,
    time,
    timedelta,
)


def _scalar(kind: type) -> bool:
    """Whether values of ``kind`` are encoded by their repr: the types above and ``Decimal``
    (looked up only when decimal is loaded: no Decimal exists before it is)."""
    if kind in _SCALARS:
        return True
    decimal = sys.modules.get("decimal")
    return decimal is not None and kind is decimal.Decimal


def call_key(task_name: str, count: int, map_index: int | None = None) -> str:
    """The replay key of a task call."""
    key = f"{task_name}-{count}"
    return key if map_index is None else f"{key}[{map_index}]"


class _FingerprintPickler(cloudpickle.Pickler):
    """Pickles futures as their keys (sets inside objects keep their iteration order: the
    pickler never consults reducer_override for built-in containers)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, TaskFuture):
            return (str, (f"<future {obj.key}>",))
        return super().reducer_override(obj)


def _encode(value: Any, out: list[str], depth: int = 0) -> bool:
    """Append a stable text form of plain data; False when ``value`` is not plain data."""
    kind = type(value)
    if _scalar(kind):
        out.append(kind.__name__)
        out.append(repr(value))
        return True
    if kind is TaskFuture:
        out.append(f"<future {value.key}>")
        return True
    if depth > 20:
        return False
    if kind is list or kind is tuple:
        out.append("[" if kind is list else "(")
        for item in value:
            if not _encode(item, out, depth + 1):
                return False
            out.append(",")
        out.append("]")
        return True
    if kind is dict:
        out.append("{")
        for k, v in value.items():
            if not _encode(k, out, depth + 1) or not _encode(v, out, depth + 1):
                return False
            out.append(",")
        out.append("}")
        return True
    if kind is set or kind is frozenset:
        # iteration order of a set changes between processes (string hashing is salted):
        # encode the items one by one and sort the texts
        items = []
        for item in value:
            part: list[str] = []
            if not _encode(item, part, depth + 1):
                return False
            items.append("".join(part))
        out.append(kind.__name__ + "{" + ",".join(sorted(items)) + "}")
        return True
    return False


def fingerprint(task_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short stable hash of a call's task name and inputs."""
    parts: list[str] = []
    if _encode((args, kwargs), parts):
        payload = "".join(parts).encode()
    else:
        buffer = io.BytesIO()
        try:
            _FingerprintPickler(buffer, protocol=5).dump((args, kwargs))
            payload = b"pickle:" + buffer.getvalue()
        except Exception:
            # an argument that cannot be pickled fails when dispatched; hash its repr here
            payload = b"repr:" + repr((args, kwargs)).encode()
    digest = hashlib.blake2b(task_name.encode() + b"\0" + payload, digest_size=8)
    return digest.hexdigest()
