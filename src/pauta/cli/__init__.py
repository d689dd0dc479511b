"""The ``pauta`` command line: ``entry`` is the console script, ``main`` the click group.

``entry`` imports no command-line library itself: ``pauta run`` starts its first worker
process before the command line is parsed (``pauta.cli.prestart``).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["entry", "main"]

GIL_SWITCH_INTERVAL_S = 0.0005
"""How long a thread may hold the GIL while another waits for it, in pauta's own processes
(Python's default is 5 ms). The engine's thread shares the interpreter with flow bodies, the
progress display and the web server: each time one of them held the GIL for the default 5 ms,
every ready task waited that long to be sent to a worker. Measured on 2 cores: a fan-out of
1,000 no-op tasks runs 15% faster; chains and CPU-bound tasks in workers are unchanged."""


def entry() -> None:
    """The ``pauta`` console script: run a command, then exit without the interpreter's
    module teardown (0.1-0.2 s that nobody waits for usefully)."""
    from pauta.cli.prestart import start_for
    from pauta.core.process import exit_quickly

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    start_for(sys.argv[1:])
    from pauta.cli.main import main

    try:
        main()
    except SystemExit as exc:
        exit_quickly(exc.code)
    exit_quickly(0)


def __getattr__(name: str) -> Any:
    if name == "main":
        from pauta.cli.main import main

        return main
    raise AttributeError(f"module 'pauta.cli' has no attribute {name!r}")
