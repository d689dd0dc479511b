"""Ending a pauta process quickly once its work is done."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from contextlib import suppress
from typing import NoReturn


def exit_without_teardown(code: int) -> NoReturn:
    """Exit with ``code`` now: run the atexit handlers (logging's flush among them, and any a
    task or plugin registered), flush the standard streams, and skip the interpreter's module
    teardown.

    Tearing down SQLAlchemy, pydantic and a few hundred other modules takes 0.1-0.2 s, which is
    a third of a short `pauta run` and most of a stopping worker's exit. Call it only when no
    other non-daemon thread runs (see ``exit_quickly``): they would be cut off, not joined.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(code)


def exit_quickly(code: int | str | None) -> NoReturn:
    """``sys.exit(code)``, without the interpreter's teardown when nothing else runs."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:
        sys.exit(code)  # a normal exit joins them
    if code is None:
        code = 0
    elif not isinstance(code, int):
        with suppress(Exception):
            print(code, file=sys.stderr)
        code = 1
    exit_without_teardown(code)
