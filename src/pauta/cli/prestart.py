"""``pauta run``'s first worker process, started before the command line is parsed.

Importing click and the command's modules takes a short run about 40 ms, and a worker process
takes longer than that to boot: started first, it boots on another core while this process
imports the rest, and the run hands it its first task as soon as the flow is loaded.

Only ``pauta run`` whose tasks default to the local pool starts one (not ``--executor ray`` or
``--executor inline``, not ``--help``). The command adopts it (``take``) once it knows its
settings, and stops it when its own parsing disagrees; one nobody adopts (the command line was
wrong) ends with this process: its lifeline pipe closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pauta.executors.processes import Prestarted

NOT_LOCAL = ("ray", "inline")
"""The ``--executor`` values whose runs start no local pool."""

_started: list[Prestarted] = []


def wants_local_pool(args: list[str]) -> bool:
    """Whether ``pauta ARGS`` runs a flow with the local pool by default, as far as one can tell
    without parsing the command line (the command checks again)."""
    if not args or args[0] != "run" or any(a in ("-h", "--help") for a in args):
        return False
    executor = None
    for index, arg in enumerate(args):
        if arg == "--executor" and index + 1 < len(args):
            executor = args[index + 1]
        elif arg.startswith("--executor="):
            executor = arg.partition("=")[2]
    return executor not in NOT_LOCAL


def start_for(args: list[str]) -> None:
    """Start the first worker when ``pauta ARGS`` will want one."""
    if wants_local_pool(args) and not _started:
        from pauta.executors.processes import Prestarted

        _started.append(Prestarted())


def take() -> Prestarted | None:
    """The worker started for this command, once (None when none was)."""
    return _started.pop() if _started else None
