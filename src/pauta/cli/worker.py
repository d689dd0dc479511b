"""`pauta worker`: claim queued runs and drive them."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    executor_options,
    executor_settings,
    fail,
    user_errors,
)


@click.command()
@click.option("--max-runs", type=int, default=4, show_default=True, help="Runs driven at once.")
@click.option(
    "--poll", type=float, default=1.0, show_default=True, help="Seconds between looks for work."
)
@click.option(
    "--workers", type=int, help="Warm worker processes (default: one per cpu of capacity)."
)
@executor_options
@capacity_options
def worker(
    max_runs: int,
    poll: float,
    workers: int | None,
    executor: str | None,
    ray_address: str | None,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Claim queued runs and drive them until stopped.

    With ``--executor ray`` the claimed runs' tasks run on the Ray cluster at ``--ray-address``
    (or ``PAUTA_RAY_ADDRESS``); the worker refuses to start while it cannot use that cluster.
    Also resumes runs whose driver stopped renewing its lease. The first Ctrl-C (or SIGTERM)
    stops claiming and waits for the runs in progress; a second one exits at once, and those
    runs are resumed by another worker once their lease expires.
    """
    from pauta.cli.database_watch import DatabaseWatch
    from pauta.engine.runner import Runner
    from pauta.scheduling.claims import Worker

    if max_runs < 1:
        fail("--max-runs must be at least 1")
    from pauta.cli.driving import ready, start_cluster
    from pauta.dispatch.capacity import detect_capacity

    settings = executor_settings(executor, ray_address)
    capacity = build_capacity(cpus, memory, gpus, resources)
    started = {}
    if executor == "ray":
        started["ray"] = start_cluster(settings, capacity or detect_capacity(), "ray")
        ready(started)
    runner = Runner(
        settings,
        capacity=capacity,
        workers=workers,
        default_executor=executor,
        started=started,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            # "stop at once": see `pauta server`; the runs are resumed elsewhere later
            click.echo("pauta worker: stopped", err=True)
            os._exit(130)
        click.echo("pauta worker: finishing the runs in progress (again to stop now)", err=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with user_errors():
        store = runner.engine().store
    watch = DatabaseWatch(store, "pauta worker", stop.set).start()
    _remove_dead_workers_containers()
    from pauta.connections.urls import masked

    click.echo(f"pauta worker: waiting for runs ({masked(runner.settings.database_url)})", err=True)
    try:
        Worker(runner, max_runs=max_runs, poll_interval=poll).run_until(stop)
        watch.hold()
    finally:
        watch.stop()
        runner.close()


def _remove_dead_workers_containers() -> None:
    """Remove the containers of container tasks whose pauta process on this host died (a
    worker killed mid-task), before this worker takes runs; nothing where there is no CLI."""
    import shutil

    from pauta.executors.container_cli import container_cli, remove_orphans

    cli = container_cli()
    if shutil.which(cli[0]) is None:
        return
    removed = remove_orphans(cli)
    if removed:
        click.echo(
            f"pauta worker: removed {len(removed)} container(s) of dead workers: "
            + ", ".join(removed),
            err=True,
        )
