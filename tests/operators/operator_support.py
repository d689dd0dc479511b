"""Helpers for the operator tests: processes seen in /proc."""

from __future__ import annotations

import os


def sleeping(seconds: str) -> list[int]:
    """The live (not zombie) processes running ``sleep SECONDS``."""
    wanted = [b"sleep", seconds.encode()]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:-1]
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if argv and argv[0].endswith(b"sleep") and argv[1:] == wanted[1:] and state != "Z":
            found.append(int(entry))
    return found
