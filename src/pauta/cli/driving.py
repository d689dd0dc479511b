"""Running a flow in this process with live progress, and warming its worker pool."""

from __future__ import annotations

import sys
import time
from typing import Any

from pauta.cli.common import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    open_store,
    print_json,
    user_errors,
)


def drive_with_progress(action: Any, *, as_json: bool, quiet: bool) -> None:
    """Run ``action(on_start)`` with live progress; exit with the run's outcome.

    Only a terminal gets the live display, and only a terminal or a summary that rich alone lays
    out right loads rich (loading it costs a short run 20-40 ms here): ``--quiet``, ``--json``
    and a summary written to a pipe or a file never do.
    """
    from pauta.cli.summary import writes_to_terminal

    terminal = not (quiet or as_json) and writes_to_terminal(sys.stderr)
    console: Any = None
    live: Any = None
    if terminal:
        from rich.console import Console

        from pauta.cli.progress import LiveProgress

        console = Console(stderr=True)
        live = LiveProgress(console)
    drivers: list[Any] = []

    def on_start(driver: Any) -> None:
        drivers.append(driver)
        if live is not None:
            live.attach(driver)

    started = time.perf_counter()
    try:
        with user_errors():
            run = action(on_start)
    finally:
        if live is not None:
            live.close()
    elapsed = time.perf_counter() - started
    if as_json:
        from pauta.app.runs import show_run

        print_json(show_run(open_store(), run.id))
    elif not quiet:
        _print_summary(console, run, drivers[0] if drivers else None, elapsed)
    sys.exit(EXIT_OK if run.state == "SUCCEEDED" else EXIT_RUN_FAILED)


def _print_summary(console: Any, run: Any, driver: Any, elapsed: float) -> None:
    from pauta.cli.summary import print_plain, summary

    if console is None and print_plain(summary(run, driver, elapsed)):
        return
    from rich.console import Console

    from pauta.cli.progress import print_summary

    print_summary(console or Console(stderr=True), run, driver, elapsed)


def start_cluster(settings: Any, capacity: Any, name: str) -> tuple[Any, Any]:
    """A cluster executor (``ray``) reaching its cluster in the background, and the wakeup
    to bind to the engine that will own it; ``ready`` (below) waits for it."""
    from pauta.dispatch.capacity import default_workers
    from pauta.executors.base import LateWakeup
    from pauta.executors.registry import ExecutorConfig, default_registry

    settings.ensure_home()
    settings.export_home()
    config = ExecutorConfig(settings, capacity, default_workers(capacity))
    with user_errors():
        executor = default_registry().create(name, config)
    wakeup = LateWakeup()
    executor.start(wakeup)
    return executor, wakeup


def ready(started: dict[str, tuple[Any, Any]]) -> None:
    """Refuse to run (exit 2, with the reason) while a started cluster executor cannot run
    attempts: no cluster at the address, a result store its nodes cannot reach."""
    for executor, _ in started.values():
        wait = getattr(executor, "wait_ready", None)
        if wait is not None:
            with user_errors():
                wait()


def first_local_worker(settings: Any, local: bool) -> Any:
    """The local pool's first worker, configured: the one ``pauta`` started before it parsed
    the command line, else one started now (before the command imports the executor, the
    flow and the engine, so that it boots meanwhile on another core). None without a local
    pool (a worker started for one is stopped)."""
    from pauta.cli.prestart import take
    from pauta.executors.processes import Prestarted

    first = take()
    if not local:
        if first is not None:
            first.discard()
        return None
    settings.ensure_home()
    settings.export_home()
    first = first or Prestarted()
    first.configure(settings.results_url, settings.inline_result_max, str(settings.home))
    return first


def start_local_pool(
    settings: Any, capacity: Any, workers: int | None, first: Any = None
) -> tuple[Any, Any]:
    """A started local executor (with ``first``, a prestarted worker, as its first) and the
    wakeup to bind to the engine that will own it."""
    from pauta.dispatch.capacity import default_workers
    from pauta.executors.base import LateWakeup
    from pauta.executors.local import LocalExecutor

    settings.ensure_home()
    settings.export_home()
    pool = LocalExecutor(
        workers=workers or default_workers(capacity),
        results_url=settings.results_url,
        inline_max=settings.inline_result_max,
        first=first,
    )
    wakeup = LateWakeup()
    pool.start(wakeup)
    return pool, wakeup
