"""Finding and loading the entry points of one plugin group, keeping what failed and why.

A group is read with ``importlib.metadata.entry_points`` the first time it is asked for and
cached; ``reload()`` forgets the cache (after installing a package in a running process, and
in tests). Loading an entry point runs the plugin's code: any exception it raises, and an
object of the wrong kind, becomes a ``Plugin`` with ``error`` set, so a broken package never
stops pauta.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("pauta.plugins")

EXECUTORS = "pauta.executors"
NOTIFIERS = "pauta.notifiers"
UI = "pauta.ui"
SERIALIZERS = "pauta.serializers"
CONNECTION_TYPES = "pauta.connection_types"
GROUPS: tuple[str, ...] = (EXECUTORS, NOTIFIERS, SERIALIZERS, CONNECTION_TYPES, UI)

BUILT_IN_NOTIFIERS = frozenset({"webhook", "slack", "smtp", "smtps"})
"""Schemes of ``PAUTA_NOTIFY`` that pauta's own notifiers answer; a plugin cannot take them."""

BUILT_IN_SERIALIZERS = frozenset({"pickle", "numpy", "file"})
"""Serializer names of pauta's result store; a plugin cannot take them."""

# a notifier's name is the scheme of its PAUTA_NOTIFY entry; a page's is a path segment
_NOTIFIER_NAME = re.compile(r"[a-z][a-z0-9.\-]*")
_PAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]*")


@dataclass(frozen=True, slots=True)
class Plugin:
    """One entry point of a plugin group: loaded (``obj`` set) or not (``error`` says why)."""

    group: str
    name: str
    value: str
    distribution: str | None
    version: str | None
    error: str | None = None
    obj: Any = field(default=None, repr=False, compare=False)

    @property
    def loaded(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "value": self.value,
            "distribution": self.distribution,
            "version": self.version,
            "loaded": self.loaded,
            "error": self.error,
        }


class PluginError(Exception):
    """An entry point names an object of the wrong kind for its group."""


def check_notifier(name: str, obj: Any) -> None:
    if name in BUILT_IN_NOTIFIERS:
        raise PluginError(f"{name!r} is a built-in notifier and cannot be replaced")
    if not _NOTIFIER_NAME.fullmatch(name):
        raise PluginError(
            f"a notifier's name is the scheme of its PAUTA_NOTIFY entry: lower-case letters, "
            f"digits, '.' and '-', starting with a letter, not {name!r}"
        )
    if not isinstance(obj, type):
        raise PluginError(
            "the entry point must name a notifier class (built from its PAUTA_NOTIFY URL), "
            f"not a {type(obj).__name__}"
        )


def check_page(name: str, obj: Any) -> None:
    from fastapi import APIRouter

    if not _PAGE_NAME.fullmatch(name):
        raise PluginError(
            "a UI plugin's name is the path segment under /plugins/: lower-case letters, "
            f"digits, '_' and '-', not {name!r}"
        )
    if not isinstance(obj, APIRouter):
        raise PluginError(
            f"the entry point must name a fastapi.APIRouter, not a {type(obj).__name__}"
        )


def check_serializer(name: str, obj: Any) -> None:
    if name in BUILT_IN_SERIALIZERS:
        raise PluginError(f"{name!r} is a built-in serializer and cannot be replaced")
    if not _NOTIFIER_NAME.fullmatch(name) or len(name) > 64:
        raise PluginError(
            "a serializer's name is stored with each result: lower-case letters, digits, "
            f"'.' and '-', starting with a letter, at most 64, not {name!r}"
        )
    types = getattr(obj, "types", None)
    if not isinstance(types, tuple) or not types or not all(isinstance(t, type) for t in types):
        raise PluginError("a serializer needs `types`, a non-empty tuple of classes")
    builtin = [t.__name__ for t in types if t.__module__ == "builtins"]
    if builtin:
        raise PluginError(f"builtin types are always pickled, not {', '.join(builtin)}")
    if not isinstance(getattr(obj, "extension", None), str):
        raise PluginError("a serializer needs `extension`, the file name ending of its files")
    for method in ("dumps", "loads"):
        if not callable(getattr(obj, method, None)):
            raise PluginError(f"a serializer needs a `{method}` method")


def check_connection_type(name: str, obj: Any) -> None:
    if name in ("http", "https"):
        raise PluginError(f"{name!r} connections are built in and cannot be replaced")
    if not _NOTIFIER_NAME.fullmatch(name):
        raise PluginError(
            "a connection type's name is its URL scheme: lower-case letters, digits, '.' and "
            f"'-', starting with a letter, not {name!r}"
        )
    if not callable(getattr(obj, "client", None)):
        raise PluginError("a connection type needs a `client(connection)` method")
    probe = getattr(obj, "probe", None)
    if probe is not None and not callable(probe):
        raise PluginError("a connection type's `probe` must be a method")


CHECKS: dict[str, Callable[[str, Any], None]] = {
    CONNECTION_TYPES: check_connection_type,
    NOTIFIERS: check_notifier,
    SERIALIZERS: check_serializer,
    UI: check_page,
}


def installed_entry_points(group: str) -> Iterable[Any]:
    from importlib.metadata import entry_points

    return entry_points(group=group)


def distribution_of(entry: Any) -> tuple[str | None, str | None]:
    dist = getattr(entry, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def load_entry(group: str, entry: Any) -> Plugin:
    """Load one entry point and check its object; any failure is kept in ``error``."""
    name, version = distribution_of(entry)
    value = str(getattr(entry, "value", ""))
    try:
        obj = entry.load()
        check = CHECKS.get(group)
        if check is not None:
            check(entry.name, obj)
    except Exception as exc:  # a broken plugin never stops pauta
        error = f"{type(exc).__name__}: {exc}"
        log.warning("plugin %s %r (%s) failed to load: %s", group, entry.name, name, error)
        return Plugin(group, entry.name, value, name, version, error)
    return Plugin(group, entry.name, value, name, version, None, obj)


_lock = threading.Lock()
_cache: dict[str, list[Plugin]] = {}
_generation = 0


def generation() -> int:
    """A number that changes at each ``reload()``, for caches built from loaded plugins."""
    return _generation


def load_group(group: str) -> list[Plugin]:
    """The plugins of ``group`` (notifiers or UI pages), loaded once per process, by name."""
    if group not in CHECKS:
        raise ValueError(f"load_group reads {sorted(CHECKS)}, not {group!r}")
    with _lock:
        found = _cache.get(group)
        if found is None:
            entries = sorted(installed_entry_points(group), key=lambda entry: entry.name)
            found = [load_entry(group, entry) for entry in entries]
            _cache[group] = found
        return list(found)


def find(group: str, name: str) -> Plugin | None:
    """The plugin ``name`` of ``group`` (loaded or broken), or None when none is installed."""
    for plugin in load_group(group):
        if plugin.name == name:
            return plugin
    return None


def reload() -> None:
    """Forget what was loaded, so that the next request reads the entry points again."""
    global _generation
    with _lock:
        _cache.clear()
        _generation += 1
