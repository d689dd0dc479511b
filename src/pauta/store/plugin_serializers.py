"""Result serializers from ``pauta.serializers`` plugins.

A serializer plugin names an object with ``types`` (a tuple of classes), ``extension`` (of
its files), ``dumps(value) -> bytes`` and ``loads(data) -> value``. The result store asks for
one only for a value that is neither a plain builtin nor a numpy array, so the plugins are
read on the first such result of a process whose type is not a builtin, and the answer per
type is cached.
"""

from __future__ import annotations

import threading
from typing import Any

from pauta.plugins.discovery import SERIALIZERS, find, generation, load_group

_lock = threading.Lock()
_by_type: dict[type, tuple[str, Any] | None] = {}
_seen = [-1]  # the plugins' generation _by_type was built from


def serializer_for(value: Any) -> tuple[str, Any] | None:
    """The (name, serializer) of the first loaded plugin whose ``types`` ``value`` is an
    instance of; None when no plugin takes it (it is pickled).

    Builtin types (dicts, lists, tuples...) are always pickled: most results are one, and
    reading the entry points costs ``importlib.metadata``'s import (tens of ms) in each
    worker process."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return None
    if _seen[0] != generation():
        with _lock:
            _by_type.clear()
            _seen[0] = generation()
    try:
        return _by_type[kind]
    except KeyError:
        pass
    chosen = None
    for plugin in load_group(SERIALIZERS):
        if plugin.loaded and issubclass(kind, plugin.obj.types):
            chosen = (plugin.name, plugin.obj)
            break
    with _lock:
        _by_type[kind] = chosen
    return chosen


def serializer_named(name: str) -> Any:
    """The serializer a stored result names; a ValueError says why it cannot be read."""
    plugin = find(SERIALIZERS, name)
    if plugin is None:
        raise ValueError(
            f"this result was written by the serializer {name!r}, which no installed plugin "
            "provides (`pauta plugins list` shows the installed ones)"
        )
    if not plugin.loaded:
        raise ValueError(
            f"this result was written by the serializer {name!r} of "
            f"{plugin.distribution or plugin.value}, which failed to load: {plugin.error}"
        )
    return plugin.obj
