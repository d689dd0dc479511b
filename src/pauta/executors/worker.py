"""Running one attempt, and a warm worker process's main loop (``pauta.executors.processes`` is
the executor's handle on it).

A worker is a fresh interpreter (``python -c``; CUDA and ``fork`` do not mix) that imports only
this module until a task needs more: not the driver's main script, not ``multiprocessing``'s
machinery. It talks to its executor over two pipes (``pauta.executors.pipe``). Messages are
pickled:

- parent to worker: first the configuration (``boot``), then ``("work", run_id,
  RunInfo | None, TaskRef | token, key, task_name,
  attempt, args_blob, log_path, is_async)`` (the RunInfo and the TaskRef travel only the first
  time this worker sees that run or function), ``("forget",)`` to drop what it remembers, and
  ``("stop",)``;
- worker to parent: ``READY`` once started, then one outcome per item (``encode_outcome``).

A task's exception, ``sys.exit`` included, fails only its attempt: the worker carries on.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from typing import Any, TextIO

from pauta.core.clock import get_clock
from pauta.core.host import hostname
from pauta.core.process import exit_without_teardown
from pauta.core.secrets import mask, mask_file, registered_values, revealed_names
from pauta.core.states import State
from pauta.definitions.context import Context, Interval, use_context
from pauta.executors.base import (
    Artifact,
    ErrorInfo,
    Metric,
    ResultPlaceholder,
    RunInfo,
    TaskRef,
    WorkItem,
    WorkOutcome,
)
from pauta.executors.capture import FdCapture
from pauta.executors.loading import resolve
from pauta.executors.pipe import PROTOCOL, READY, MessageReader, write_message
from pauta.store.results import ResultStore, StoredResult
from pauta.tracking.registry import model_registrar

Capture = Callable[[str], AbstractContextManager[TextIO]]


def error_type_name(kind: type[BaseException]) -> str:
    """``ValueError`` for builtins, ``package.module.MyError`` for everything else."""
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def swap_placeholders(value: Any, store: ResultStore, memo: dict[int, Any]) -> Any:
    """``value`` with every ``ResultPlaceholder`` (also inside containers) loaded.

    Containers without placeholders are returned as they are, not copied.
    """
    kind = type(value)
    if kind is ResultPlaceholder:
        found = memo.get(id(value), memo)
        if found is memo:
            found = memo[id(value)] = store.get(value.result)
        return found
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [swap_placeholders(item, store, memo) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return kind(*items)
        return kind(items)
    if isinstance(value, dict):
        pairs = {k: swap_placeholders(v, store, memo) for k, v in value.items()}
        if all(pairs[k] is v for k, v in value.items()):
            return value
        if kind is dict:
            return pairs
        copied = value.copy()  # keeps a subclass's extras (a defaultdict's factory)
        copied.update(pairs)
        return copied
    return value


def run_item(item: WorkItem, store: ResultStore, capture: Capture, worker: str) -> WorkOutcome:
    """Run one attempt with its context and log capture; never raises for the task's sake."""
    clock = get_clock()
    run = item.run
    metrics: list[Metric] = []
    artifacts: list[Artifact] = []
    params: list[tuple[str, str]] = []

    def sink(name: str, value: float, step: int | None) -> None:
        metrics.append(Metric(name, value, step, clock.timestamp()))

    def keep(name: str, value: Any) -> None:
        stored = store.put_artifact(
            name, value, run_id=run.run_id, key=item.key, attempt=item.attempt
        )
        artifacts.append(Artifact(name, stored, clock.timestamp()))

    def note_param(name: str, value: str) -> None:
        params.append((name, value))

    ctx = Context(
        run_id=run.run_id,
        flow_name=run.flow_name,
        params=run.params,
        logical_date=run.logical_date,
        interval=Interval(run.interval_start, run.interval_end),
        attempt=item.attempt,
        task_name=item.task_name,
        task_key=item.key,
        trigger=run.trigger,
        metric_sink=sink,
        artifact_sink=keep,
        param_sink=note_param,
        model_sink=model_registrar(
            run.run_id,
            run.flow_name,
            item.key,
            item.task_name,
            lambda: {a.name: a.stored.uri for a in artifacts if a.stored.uri is not None},
        ),
    )
    started = clock.timestamp()
    result: StoredResult | None = None
    error: ErrorInfo | None = None
    try:
        with capture(item.log_path) as log, use_context(ctx):
            try:
                result = _call(item, store)
            except BaseException as exc:
                error = error_info(exc)
                with suppress(OSError, ValueError):
                    log.write(error.traceback)
    except Exception as exc:
        # The log itself failed (a full disk, a folder that cannot be created).
        result = None
        error = ErrorInfo(
            error_type_name(type(exc)),
            f"cannot write the attempt's log {item.log_path}: {_message(exc)}",
            _format_traceback(exc),
        )
    if registered_values():
        # A secret was read in this process: what the attempt printed may hold its value.
        with suppress(OSError):
            mask_file(item.log_path)
    return WorkOutcome(
        run_id=run.run_id,
        key=item.key,
        attempt=item.attempt,
        state=State.FAILED if error else State.SUCCEEDED,
        started_at=started,
        ended_at=clock.timestamp(),
        result=result,
        error=error,
        metrics=metrics,
        worker=worker,
        artifacts=artifacts,
        secrets=revealed_names(),
        params=params,
    )


def _call(item: WorkItem, store: ResultStore) -> StoredResult:
    fn = resolve(item.task_ref)
    args, kwargs = pickle.loads(item.args_blob)
    # A pickled placeholder names its class: without that name there is nothing to swap.
    if b"ResultPlaceholder" in item.args_blob:
        memo: dict[int, Any] = {}
        args = swap_placeholders(args, store, memo)
        kwargs = swap_placeholders(kwargs, store, memo)
        del memo
    if item.is_async:
        import asyncio

        value = asyncio.run(fn(*args, **kwargs))
    else:
        value = fn(*args, **kwargs)
    del args, kwargs
    return store.put(value, run_id=item.run.run_id, key=item.key, attempt=item.attempt)


def error_info(exc: BaseException) -> ErrorInfo:
    # the class and its bases by qualified name, so retry_on matches subclasses too
    mro = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
    return ErrorInfo(error_type_name(type(exc)), _message(exc), _format_traceback(exc), mro=mro)


def encode_outcome(outcome: WorkOutcome) -> tuple[Any, ...]:
    """An outcome as plain tuples: several times faster to unpickle than the dataclasses.

    The run id, key, attempt and worker are left out: the executor knows them.
    """
    result, error = outcome.result, outcome.error
    return (
        outcome.state is State.SUCCEEDED,
        outcome.started_at,
        outcome.ended_at,
        None
        if result is None
        else (result.uri, result.inline, result.size, result.serializer, result.preview),
        None
        if error is None
        else (error.type, error.message, error.traceback, error.kind, error.mro),
        [(m.name, m.value, m.step, m.timestamp) for m in outcome.metrics],
        [(a.name, _stored_tuple(a.stored), a.timestamp) for a in outcome.artifacts],
        outcome.secrets,
        outcome.params,
    )


def _stored_tuple(stored: StoredResult) -> tuple[Any, ...]:
    return (stored.uri, stored.inline, stored.size, stored.serializer, stored.preview)


def decode_outcome(data: tuple[Any, ...], item: WorkItem, worker: str) -> WorkOutcome:
    """The ``WorkOutcome`` of ``item`` from what ``encode_outcome`` sent."""
    ok, started, ended, result, error, metrics, artifacts, secrets, params = data
    return WorkOutcome(
        run_id=item.run.run_id,
        key=item.key,
        attempt=item.attempt,
        state=State.SUCCEEDED if ok else State.FAILED,
        started_at=started,
        ended_at=ended,
        result=None if result is None else StoredResult(*result),
        error=None if error is None else ErrorInfo(*error),
        metrics=[Metric(*m) for m in metrics],
        worker=worker,
        artifacts=[Artifact(n, StoredResult(*stored), ts) for n, stored, ts in artifacts],
        secrets=secrets,
        params=[tuple(p) for p in params],
    )


def _format_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Start at the task's own frame: the executor's frame means nothing to the user.
    ours = (run_item.__code__, _call.__code__)
    while tb is not None and tb.tb_frame.f_code in ours and tb.tb_next is not None:
        tb = tb.tb_next
    import traceback  # here: a worker process starts without it, and most tasks succeed

    return mask("".join(traceback.format_exception(type(exc), exc, tb)))


def _message(exc: BaseException) -> str:
    try:
        return mask(str(exc))
    except Exception:
        return f"<{type(exc).__name__} whose str() failed>"


def worker_name() -> str:
    """``host:pid``, as outcomes report it."""
    return f"{hostname()}:{os.getpid()}"


# -- the worker's side ------------------------------------------------------------------------


def _watch_parent(lifeline: int) -> None:
    """Kill this worker's process group when the executor's process dies.

    The executor holds the write end of the ``lifeline`` pipe and never writes to it: a read
    returns only when every write end is closed, that is when the executor's process is gone.
    Without this, a killed driver would leave its workers (and their children) running tasks
    that the resumed run will run again.
    """

    def watch() -> None:
        with suppress(OSError):
            while os.read(lifeline, 1):
                pass
        os.killpg(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="pauta-parent-watch", daemon=True).start()


def boot() -> None:
    """A worker process's entry point: ``python -c "...; boot()" IN_FD OUT_FD LIFELINE_FD``
    (it reads work on ``IN_FD`` and writes outcomes to ``OUT_FD``).

    The first message it reads is the executor's configuration: its ``sys.path`` (so a
    worker imports what its executor can; a virtualenv's worker keeps its own path first and
    adds the executor's project folders after it), where results go, how large an inline
    result may be and pauta's home.
    """
    fd_in, fd_out, lifeline = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    # Tasks that start programs must not hand them these descriptors.
    for own in (fd_in, fd_out, lifeline):
        os.set_inheritable(own, False)
    reader = MessageReader(fd_in)
    try:
        config = pickle.loads(reader.next())
    except (EOFError, OSError):
        return  # the executor is gone already (it was interrupted while this worker started)
    paths = config["sys_path"]
    if config.get("own_path"):
        paths = [*sys.path, *(p for p in paths if p not in sys.path)]
    sys.path[:] = paths
    sys.argv[:] = [sys.argv[0]]
    if config.get("home"):  # started before its executor exported the home
        os.environ.setdefault("PAUTA_HOME", config["home"])
    worker_main(reader, fd_out, config["results_url"], config["inline_max"], lifeline)


def _prefetch() -> None:
    """Import what the first task's module will: its flow file imports ``pauta``'s decorators.

    The worker is idle until the first item arrives (the driver is still loading the flow and
    the engine), so this comes off the first task's time instead of adding to it.
    """
    import pauta.definitions.flow
    import pauta.definitions.task  # noqa: F401


def worker_main(
    reader: MessageReader, fd: int, results_url: str, inline_max: int, lifeline: int
) -> None:
    """The loop of one warm worker process.

    ``CUDA_VISIBLE_DEVICES``, when the executor pins GPUs, is in the environment the process
    started with, before any task code is imported.
    """
    # Ctrl-C is for the driver: it cancels the run and stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import faulthandler

    # A segfault dumps the Python stack to fd 2, which is the attempt's log while it runs.
    faulthandler.enable(file=sys.__stderr__ or sys.stderr, all_threads=False)
    _watch_parent(lifeline)
    store = ResultStore(results_url, inline_max)
    capture = FdCapture()
    me = worker_name()
    runs: dict[str, RunInfo] = {}
    refs: dict[str, TaskRef] = {}
    try:
        write_message(fd, pickle.dumps(READY, PROTOCOL))
    except OSError:
        return  # the driver is gone already (it was interrupted while this worker started)
    _prefetch()
    try:
        while True:
            try:
                message = pickle.loads(reader.next())
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "work":
                _, run_id, run, ref, key, task_name, attempt, blob, log_path, is_async = message
                if run is not None:
                    runs[run_id] = run
                if isinstance(ref, TaskRef):
                    if ref.token:
                        refs[ref.token] = ref
                else:
                    ref = refs[ref]
                item = WorkItem(
                    runs[run_id], key, task_name, attempt, ref, blob, log_path, is_async=is_async
                )
                outcome = run_item(item, store, capture.capture, me)
                del item, blob
                write_message(fd, pickle.dumps(encode_outcome(outcome), PROTOCOL))
            elif kind == "forget":
                runs.clear()
                refs.clear()
            elif kind == "stop":
                capture.close()
                exit_without_teardown(0)
    finally:
        capture.close()
