"""What runs on a Ray node: one attempt, the way a local worker runs it.

``run_attempt`` is the Ray task of every pauta attempt. Ray keeps its worker processes warm
(one pool per ``runtime_env``), and this module keeps what a local worker keeps: the flow
modules it imported, the result store, the output capture. The attempt's output goes to a
file in a private folder of the node; while the attempt runs its lines are streamed to the
driver (``ray_stream``), and the rest travels back with the outcome, so a cluster needs no
shared folder for logs; the node's id and the worker process travel back too.
"""

from __future__ import annotations

import itertools
import os
import pickle
import tempfile
from contextlib import suppress
from typing import Any

from pauta.executors.capture import FdCapture
from pauta.executors.ray_code import WORKING_DIR
from pauta.executors.ray_stream import Streamer, scratch_of
from pauta.executors.worker import encode_outcome, run_item
from pauta.store.results import ResultStore

LOG_MAX = 8 * 1024 * 1024
"""The most of an attempt's output that travels back (its end, with a note of what was cut)."""

# The working directory of this worker process: the attempt's shipped code folder. Tasks that
# change directory are put back, so every attempt finds its code where it was unpacked.
_HOME = os.getcwd()
_stores: dict[tuple[str, int], ResultStore] = {}
_capture: list[FdCapture] = []
_logs: list[str] = []
_seq = itertools.count()


def local_path(path: str | None) -> str | None:
    """A relocated ``TaskRef`` path (see ``ray_code.relocate``) on this node."""
    if path and path.startswith(WORKING_DIR):
        return os.path.join(_HOME, path[len(WORKING_DIR) :])
    return path


def run_attempt(
    item_blob: bytes, results_url: str, inline_max: int, sink: Any = None, stream: str = ""
) -> tuple[Any, ...]:
    """Run one pickled ``WorkItem``; answer (encoded outcome, node id, worker, output, where
    the output starts in what was streamed to ``sink`` while it ran)."""
    import ray

    item = pickle.loads(item_blob)
    ref = item.task_ref
    item.task_ref = ref._replace(path=local_path(ref.path))
    context = ray.get_runtime_context()
    node = context.get_node_id()
    worker = f"{ray.util.get_node_ip_address()}:{os.getpid()}"
    if not _logs:
        _logs.append(tempfile.mkdtemp(prefix="pauta-ray-attempts-"))
    if not _capture:
        _capture.append(FdCapture())
    item.log_path = os.path.join(_logs[0], f"attempt-{next(_seq)}.log")
    store = _stores.get((results_url, inline_max))
    if store is None:
        store = _stores[(results_url, inline_max)] = ResultStore(results_url, inline_max)
    # By path, every time: where nodes share a machine, another node's Ray may unpack the
    # same code folder anew, and a worker must not stay in the folder that was replaced.
    with suppress(OSError):
        os.chdir(_HOME)
    streamer = Streamer(sink, stream, scratch_of(_logs[0])) if sink is not None else None
    try:
        outcome = run_item(item, store, _capture[0].capture, worker)
    finally:
        sent = streamer.stop() if streamer is not None else 0
        with suppress(OSError):
            os.chdir(_HOME)
    return encode_outcome(outcome), node, worker, _take(item.log_path, sent), sent


def _take(path: str, sent: int = 0) -> bytes:
    """The attempt's output from byte ``sent`` (the part not streamed; its end past
    ``LOG_MAX``), removing the file."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size - sent
            handle.seek(sent)
            if size > LOG_MAX:
                handle.seek(sent + size - LOG_MAX)
                head = f"pauta: the first {size - LOG_MAX} bytes of output were cut\n"
                return head.encode() + handle.read()
            return handle.read()
    except FileNotFoundError:
        return b""  # a silent attempt writes nothing
    finally:
        with suppress(OSError):
            os.unlink(path)
