"""A replica process of an app revision: ``python -m pauta.services.replica --fd N --app M:F``
(``--bind HOST:PORT`` instead of ``--fd`` in a container, which binds its own port).

It imports the app factory's module (from the folders in ``PAUTA_SERVICE_PATH`` first), calls
the factory with the revision's config (``PAUTA_SERVICE_CONFIG``, JSON) and serves the ASGI app
it returns with uvicorn on the listening socket the supervisor handed down as file descriptor
N. It ends with the supervisor: on Linux the kernel sends it SIGTERM when the supervisor dies
(uvicorn then stops gracefully), so no replica outlives the process that watches it.

Importing this module imports nothing of pauta's beyond it and the standard library; uvicorn
and the app are imported when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import signal
import socket
import sys
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1
KEEP_ALIVE_S = 75
"""Longer than the proxy keeps an idle connection (see ``pauta.services.proxy``), so the replica
never closes one that the proxy is about to reuse."""

# Run with ``python -I -c EXEC_SHIM SIGNAL PARENT_PID PROGRAM ARGS...``: ask for SIGNAL when the
# parent dies, make sure it did not die already, then become the command (same pid).
EXEC_SHIM = """
import ctypes, os, sys
sig, parent = int(sys.argv[1]), int(sys.argv[2])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)
except (AttributeError, OSError):
    pass
if os.getppid() != parent:
    sys.exit(1)
os.execvp(sys.argv[3], sys.argv[3:])
"""


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel for ``sig`` when the supervisor dies (Linux), and exit at once when it is
    gone already."""
    # not Linux: no prctl, and the supervisor stops its replicas itself, when it can
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    parent = os.environ.get("PAUTA_SUPERVISOR_PID")
    if parent and os.getppid() != int(parent):
        sys.exit(1)


def load_app(ref: str, config: dict[str, Any], path: list[str]) -> Any:
    """Import ``module:factory`` and call the factory with ``config``."""
    for folder in reversed(path):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    module_name, _, attribute = ref.partition(":")
    module = importlib.import_module(module_name)
    factory: Any = module
    for part in attribute.split("."):
        factory = getattr(factory, part)
    app = factory(config)
    if not callable(app):
        raise TypeError(f"{ref} returned {type(app).__name__}, not an ASGI app")
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pauta.services.replica")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="The listening socket.")
    where.add_argument("--bind", help="HOST:PORT to listen on (in a container).")
    parser.add_argument("--app", required=True, help="module:factory")
    args = parser.parse_args(argv)
    die_with_parent()
    serving = os.environ.get("PAUTA_SERVICE_RUNTIME")
    if serving:
        # uvicorn for a virtualenv or image that lacks it: after their own packages
        sys.path.append(serving)
    config = json.loads(os.environ.get("PAUTA_SERVICE_CONFIG") or "{}")
    path = [p for p in os.environ.get("PAUTA_SERVICE_PATH", "").split(os.pathsep) if p]
    try:
        app = load_app(args.app, config, path)
    except BaseException as exc:
        print(
            f"pauta: the app factory {args.app} failed: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        traceback.print_exc()
        return 3
    import uvicorn

    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        host, _, port = args.bind.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or "0.0.0.0", int(port)))
        sock.listen(1024)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="info",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=10,
        )
    )
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
