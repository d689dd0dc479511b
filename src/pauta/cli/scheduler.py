"""`pauta scheduler` and `pauta server`: the long-running commands."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    fail,
    open_store,
    print_json,
    user_errors,
)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(*_: Any) -> None:
        if stop.is_set():
            # "stop at once": no cleanup racing the threads still driving runs; worker
            # processes notice their parent is gone, and the runs are resumed elsewhere
            # once their lease expires
            click.echo("pauta: stopped", err=True)
            os._exit(130)
        click.echo("pauta: stopping (again to stop at once)", err=True)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _log_to_stderr() -> None:
    """pauta's own messages (runs queued, started, ended) to stderr; libraries stay quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("pauta")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _folder(flows_dir: str | None) -> Path:
    from pauta.scheduling.discovery import flows_folder

    return Path(flows_dir) if flows_dir else flows_folder()


@click.command()
@click.option("--flows", "flows_dir", type=click.Path(file_okay=False), help="The flows folder.")
@click.option(
    "--rescan", type=float, default=10.0, show_default=True, help="Seconds between flow scans."
)
@click.option(
    "--max-catchup", type=int, default=10, show_default=True, help="Missed ticks created at once."
)
def scheduler(flows_dir: str | None, rescan: float, max_catchup: int) -> None:
    """Queue a run for every due tick of each scheduled, unpaused flow, until stopped.

    Flow files are re-scanned every --rescan seconds in a thread of their own, so a slow or
    broken file never delays run creation. Run `pauta worker` to run what it queues.
    """
    from pauta.cli.database_watch import DatabaseWatch
    from pauta.scheduling.service import SchedulerService

    _log_to_stderr()
    stop = _stop_on_signals()
    with user_errors():
        store = open_store()
        service = SchedulerService(
            store, _folder(flows_dir), rescan=rescan, max_catchup=max_catchup
        )
        service.scan()
    watch = DatabaseWatch(store, "pauta scheduler", lambda: service.stop(wait=False)).start()
    service.start()
    stop.wait()
    watch.stop()
    service.stop()
    store.close()


@click.command()
@click.option("--flows", "flows_dir", type=click.Path(file_okay=False), help="The flows folder.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on.")
@click.option("--max-runs", type=int, default=4, show_default=True, help="Runs driven at once.")
@click.option(
    "--rescan", type=float, default=10.0, show_default=True, help="Seconds between flow scans."
)
@click.option(
    "--services/--no-services",
    "run_services",
    default=True,
    show_default=True,
    help="Run the services flows deploy (a `pauta services run` beside the server).",
)
@capacity_options
def server(
    flows_dir: str | None,
    host: str,
    port: int,
    max_runs: int,
    rescan: float,
    run_services: bool,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Scheduler, worker, web UI and REST API in one process, on the embedded store by default.

    GET /health answers 200 once the first scan of the flows finished (503 before). When the
    SQLite file is deleted or replaced under it, it stops and exits with code 3. On the
    first start (no users yet) an admin user is created and its password printed once. The
    services that flows deploy run in a supervisor process beside it (--no-services: not
    here). The first Ctrl-C or SIGTERM stops scheduling and lets the runs in progress finish.
    """
    from pauta.cli.database_watch import DatabaseWatch
    from pauta.engine.runner import Runner
    from pauta.scheduling.claims import Worker
    from pauta.scheduling.service import SchedulerService

    if max_runs < 1:
        fail("--max-runs must be at least 1")
    _log_to_stderr()
    stop = _stop_on_signals()
    runner = Runner(capacity=build_capacity(cpus, memory, gpus, resources))
    with user_errors():
        engine = runner.engine()
        service = SchedulerService(engine.store, _folder(flows_dir), rescan=rescan)
        _first_admin(engine.store)
    try:
        sock = _listen(host, port)
    except OSError as exc:
        runner.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port")
    http = _serve_http(sock, runner, service)
    supervisor = _start_services(engine.store) if run_services else None

    def on_lost() -> None:
        service.stop(wait=False)
        stop.set()  # claim nothing more

    watch = DatabaseWatch(engine.store, "pauta server", on_lost).start()
    service.start()
    click.echo(
        f"pauta server: http://{host}:{sock.getsockname()[1]} · flows in {service.folder}",
        err=True,
    )
    try:
        Worker(runner, max_runs=max_runs).run_until(stop)
        watch.hold()
    finally:
        if supervisor is not None:
            supervisor.begin_stop()  # its replicas drain while the rest stops
        watch.stop()
        service.stop()
        http.stop()
        runner.close()
        if supervisor is not None:
            supervisor.stop()


def _start_services(store: Any) -> Any:
    """The supervisor beside the server, told which SQLite file the server opened: one that
    was deleted or replaced meanwhile it must not open (it would create or migrate it)."""
    from pauta.services.child import SupervisorProcess
    from pauta.store.db import sqlite_path

    env = {}
    path = sqlite_path(store.engine.url) if store.dialect == "sqlite" else None
    if path is not None:
        found = os.stat(path)
        env["PAUTA_SERVICES_DATABASE_ID"] = f"{found.st_dev}:{found.st_ino}"
    return SupervisorProcess(env=env).start()


def _first_admin(store: Any) -> None:
    """On the first start, an admin user with a generated password, printed this once."""
    from pauta.app.users import ADMIN_USERNAME, ensure_admin

    password = ensure_admin(store)
    if password is not None:
        click.echo(
            f"pauta server: created user {ADMIN_USERNAME!r} (admin) with password {password}\n"
            "  it is shown only now; add users with `pauta users create`",
            err=True,
        )


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port is a clear error at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _web_app(runner: Any, service: Any) -> Any:
    """The web UI with the REST API (``pauta.ui`` builds on ``pauta.api.create_app``)."""
    from pauta.app.catalog import catalog
    from pauta.ui.site import create_app  # the API alone: from pauta.api.server import create_app

    store = runner.engine().store
    # the API and the UI read what the scheduler's background scan found
    catalog(store, service.folder, source=lambda: service.found)
    app = create_app(runner.settings, store=store, flows_dir=service.folder)
    app.state.ready = service.ready
    return app


def _serve_http(sock: socket.socket, runner: Any, service: Any) -> Any:
    from pauta.api.serving import HTTPServerThread

    return HTTPServerThread(_web_app(runner, service), sock).start()


@click.command()
@click.argument("flow_name", metavar="FLOW")
@click.option("--start", "since", required=True, help="First moment: a date or ISO date-time.")
@click.option("--end", "until", required=True, help="End (excluded): a date or ISO date-time.")
@click.option("--run", "run_here", is_flag=True, help="Run them here, one after another.")
@click.option("--flows", "flows_dir", type=click.Path(file_okay=False), help="The flows folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the created runs as a JSON array.")
def backfill(
    flow_name: str, since: str, until: str, run_here: bool, flows_dir: str | None, as_json: bool
) -> None:
    """Create the runs of FLOW whose schedule ticks fall in [--start, --end).

    Dates and naive date-times are in the flow's timezone (a date means that day's midnight).
    Ticks that already have a run are skipped. The runs are QUEUED for workers, or run in this
    process with --run.
    """
    from datetime import date, datetime

    from pauta.app.runs import run_view
    from pauta.scheduling.discovery import discover
    from pauta.scheduling.scheduler import backfill as create_backfill
    from pauta.scheduling.ticks import to_utc

    def moment(text: str, option: str) -> datetime:
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            fail(f"{option} {text!r} is not a date (2026-11-23) or ISO date-time")
        return value  # type: ignore[return-value]

    with user_errors():
        found = discover(_folder(flows_dir))
        info = found.flows.get(flow_name)
        if info is None:
            fail(f"no flow named {flow_name!r} in {found.folder}; see `pauta flows list`")
        start = to_utc(moment(since, "--start"), info.timezone)
        end = to_utc(moment(until, "--end"), info.timezone)
        if end <= start:
            fail("--end must be after --start")
        store = open_store()
        try:
            created, existing = create_backfill(store, info, start, end, store.clock.now())
        except ValueError as exc:
            fail(str(exc))
    if as_json:
        print_json([run_view(r) for r in created])
    else:
        click.echo(f"{len(created)} runs queued, {existing} ticks already had a run", err=True)
    if run_here and created:
        from pauta.engine.runner import Runner

        runner = Runner()
        failed = 0
        try:
            for record in created:
                with user_errors():
                    result = runner.resume(record.id)
                failed += result.state != "SUCCEEDED"
                click.echo(
                    f"{record.logical_date.isoformat()} {result.state} {record.id}", err=True
                )
        finally:
            runner.close()
        if failed:
            raise SystemExit(1)
