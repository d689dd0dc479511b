"""This machine's name, as pauta records it on workers, attempts and leases."""

from __future__ import annotations

import os


def hostname() -> str:
    """What ``socket.gethostname()`` returns (the kernel's node name), without importing
    ``socket``: a worker process starts without it."""
    return os.uname().nodename
