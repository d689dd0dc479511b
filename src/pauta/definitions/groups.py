"""Task groups: ``with group("train"):`` around task calls in a flow body.

A call made inside a group gets the group's path before its key (``train.fit-0``; nested
groups join with dots: ``train.forest.fit-0``) and records the path as its ``group``, which the
UI folds on. Groups are plain Python scope: the path is a context variable of the flow body's
thread, so it follows ``with`` blocks, exceptions and early returns, and a replay that runs the
same body again makes the same keys. Counters are per group: ``fit-0`` inside ``train`` and
``fit-0`` outside it are different calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pauta.core.errors import DefinitionError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_path: ContextVar[str | None] = ContextVar("pauta_group", default=None)


@contextmanager
def group(name: str) -> Iterator[str]:
    """Put the task calls made inside the block in the group ``name``; yields the group's
    full path. Outside a flow run it does nothing but check the name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"group name {name!r}: use letters, digits, '_' and '-' (up to 64, not starting with "
            "'-'); nest groups with one `with group(...)` inside another instead of dots"
        )
    outer = _path.get()
    path = name if outer is None else f"{outer}.{name}"
    token = _path.set(path)
    try:
        yield path
    finally:
        _path.reset(token)


def current_group() -> str | None:
    """The path of the group the calling code is in, or None."""
    return _path.get()
