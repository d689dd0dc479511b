"""Every installed plugin, of every group, for ``pauta plugins list``.

Executors are loaded by the executor registry (the one place that builds them), so the listing
says what ``executor=NAME`` will find; notifiers and UI pages are loaded by ``discovery``.
"""

from __future__ import annotations

from pauta.plugins.discovery import (
    CONNECTION_TYPES,
    EXECUTORS,
    NOTIFIERS,
    SERIALIZERS,
    UI,
    Plugin,
    distribution_of,
    installed_entry_points,
    load_group,
)


def executor_plugins() -> list[Plugin]:
    """The ``pauta.executors`` entry points, as a fresh registry loads them."""
    from pauta.executors.registry import ExecutorRegistry

    entries = sorted(installed_entry_points(EXECUTORS), key=lambda entry: entry.name)
    registry = ExecutorRegistry(entry_points=lambda: entries)
    broken = {item.name: item.error for item in registry.broken()}
    specs = {spec.name: spec for spec in registry.specs()}
    found = []
    for entry in entries:
        name, version = distribution_of(entry)
        error = broken.get(entry.name)
        spec = specs.get(entry.name)
        if error is None and spec is not None and spec.source == "built in":
            error = f"PautaError: executor {entry.name!r} is built in and cannot be replaced"
        found.append(Plugin(EXECUTORS, entry.name, str(entry.value), name, version, error))
    return found


def all_plugins() -> list[Plugin]:
    """Executors, notifiers, serializers, connection types and UI pages, by name in each."""
    groups = (NOTIFIERS, SERIALIZERS, CONNECTION_TYPES, UI)
    return executor_plugins() + [plugin for group in groups for plugin in load_group(group)]
