"""Finding flows in files: ``path/to/file.py`` or ``path/to/file.py:flow_name``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pauta.core.errors import FlowLoadError
from pauta.core.loading import load_file
from pauta.definitions.flow import Flow


def flows_in_file(path: str | Path) -> dict[str, Flow[Any, Any]]:
    """The flows a file defines (not the ones it imports), by flow name, in file order."""
    module = load_file(path)
    found: dict[str, Flow[Any, Any]] = {}
    for value in vars(module).values():
        if isinstance(value, Flow) and value.fn.__module__ == module.__name__:
            found.setdefault(value.name, value)
    return found


def split_target(target: str) -> tuple[str, str | None]:
    """``file.py:flow`` → ("file.py", "flow"); a Windows drive letter is not a separator."""
    head, sep, tail = target.rpartition(":")
    if sep and head and not (len(head) == 1 and head.isalpha()) and tail and "/" not in tail:
        return head, tail
    return target, None


def resolve_flow(target: str) -> Flow[Any, Any]:
    """The flow named by ``FILE[:FLOW]``; a file with several flows needs ``:FLOW``."""
    path, name = split_target(target)
    flows = flows_in_file(path)
    if not flows:
        raise FlowLoadError(f"{path} defines no flow: decorate a function with @flow")
    if name is None:
        if len(flows) == 1:
            return next(iter(flows.values()))
        listed = ", ".join(flows)
        raise FlowLoadError(
            f"{path} defines several flows ({listed}); choose one with {path}:FLOW, "
            f"e.g. {path}:{next(iter(flows))}"
        )
    if name in flows:
        return flows[name]
    for flow in flows.values():
        if flow.fn.__name__ == name:
            return flow
    raise FlowLoadError(f"{path} has no flow {name!r}; it defines: {', '.join(flows)}")
