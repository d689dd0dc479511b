"""Task groups folded in the run graph and the flow page's grid (pure: no I/O).

A call made in ``with group("train"):`` records the group's path (``train``, or
``train.forest`` when nested). Pages fold each group into one node (one grid column) until it
is opened; opening a group shows its own calls and its subgroups, each folded in turn, so
nested groups fold at each level. Which groups are open travels in the page's query string
(``?groups=train,train.forest``): links expand and collapse, no script is needed.

A folded group shows the state of the calls inside it (subgroups included) by the rule of a
folded ``.map`` (``pauta.core.states.FOLDED_ORDER``): a failure first, then work going on, then
how the rest ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from pauta.core.states import folded_state

GROUP_PREFIX = "group:"
"""Node ids and grid columns of folded groups start with this (task keys never do)."""
MAX_OPEN = 200
"""Open groups taken from a query string; more are ignored."""


def parse_opened(text: str | None) -> frozenset[str]:
    """The open group paths of a ``groups`` query value (comma-separated)."""
    if not text:
        return frozenset()
    paths = [p.strip() for p in text.split(",") if p.strip()]
    return frozenset(paths[:MAX_OPEN])


def prefixes(path: str) -> list[str]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``: the group and every group around it."""
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def fold_point(group: str | None, opened: frozenset[str]) -> str | None:
    """The group a call in ``group`` is folded into: the outermost one that is not open; None
    when the call shows on its own (no group, or every level open)."""
    if not group:
        return None
    return next((p for p in prefixes(group) if p not in opened), None)


def toggled(opened: frozenset[str], path: str) -> str:
    """The ``groups`` query value with ``path`` opened, or closed (with its subgroups) when it
    was open."""
    if path in opened:
        kept = {p for p in opened if p != path and not p.startswith(path + ".")}
    else:
        kept = set(opened) | set(prefixes(path))
    return ",".join(sorted(kept))


def toggle_href(base: str, opened: frozenset[str], path: str, anchor: str = "") -> str:
    """A link to ``base`` with ``path`` toggled."""
    value = toggled(opened, path)
    return base + (f"?{urlencode({'groups': value})}" if value else "") + anchor


@dataclass(frozen=True, slots=True)
class GroupLink:
    """One group the page can expand or collapse."""

    path: str
    depth: int
    open: bool
    state: str
    calls: int
    href: str

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def group_states(
    calls: Iterable[tuple[str | None, Mapping[str, int]]],
) -> dict[str, dict[str, int]]:
    """Calls counted by state for every group path, each call counted in its group and in
    every group around it; in the order the groups were first seen."""
    found: dict[str, dict[str, int]] = {}
    for group, states in calls:
        if not group:
            continue
        for path in prefixes(group):
            counts = found.setdefault(path, {})
            for state, count in states.items():
                counts[state] = counts.get(state, 0) + count
    return found


def group_links(
    states: Mapping[str, Mapping[str, int]], opened: frozenset[str], base: str, anchor: str = ""
) -> list[GroupLink]:
    """The groups a page lists under its graph: top-level ones, and the subgroups of open ones,
    each under its parent."""
    visible = [
        path
        for path in states
        if all(p in opened for p in prefixes(path)[:-1])  # every group around it is open
    ]
    ordered = sorted(visible, key=lambda p: prefixes(p))
    return [
        GroupLink(
            path=path,
            depth=path.count("."),
            open=path in opened,
            state=folded_state(dict(states[path])),
            calls=sum(states[path].values()),
            href=toggle_href(base, opened, path, anchor),
        )
        for path in ordered
    ]
