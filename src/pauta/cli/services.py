"""`pauta services ...`: the long-running services flows deploy, and their supervisor."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from pauta.cli.common import EXIT_RUN_FAILED, fail, open_store, print_json, user_errors


@click.group()
def services() -> None:
    """Long-running services deployed by flows (`pauta.services.deploy`), and their supervisor."""


@services.command("run")
@click.option(
    "--host",
    default=None,
    help="Address the services listen on (default: PAUTA_SERVICES_HOST, else 127.0.0.1).",
)
@click.option(
    "--health-interval",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between health checks of a ready replica.",
)
def services_run(host: str | None, health_interval: float) -> None:
    """Run the services of this database until stopped (`pauta server` runs this too).

    Starts each service at its current revision on its port, rolls out new revisions, restarts
    replicas that fail. One supervisor per database runs them; another one started meanwhile
    waits and takes over when the first stops. Ctrl-C or SIGTERM stops gracefully: requests in
    progress finish, and the next supervisor starts every service again where it was.
    """
    import asyncio
    import os
    import signal

    from pauta.cli.database_watch import DatabaseWatch
    from pauta.cli.scheduler import _log_to_stderr
    from pauta.core.settings import Settings
    from pauta.services.replica import die_with_parent
    from pauta.services.replicas import Timing
    from pauta.services.supervisor import Supervisor

    if health_interval <= 0:
        fail("--health-interval must be more than 0 seconds")
    if os.environ.get("PAUTA_SUPERVISOR_PID"):
        # started by `pauta server`: stop (gracefully) when it ends, even when it was killed
        die_with_parent(signal.SIGHUP)
    _log_to_stderr()
    bind = host or os.environ.get("PAUTA_SERVICES_HOST") or "127.0.0.1"
    with user_errors():
        settings = Settings.from_env()
        _same_database(settings.database_url)
        store = open_store()
    supervisor = Supervisor(
        store,
        logs_dir=settings.home / "services",
        host=bind,
        timing=Timing(live_interval=health_interval),
    )

    async def main() -> bool:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_lost() -> None:  # the database file is gone: stop, and write nothing more
            supervisor.database_lost = True
            loop.call_soon_threadsafe(stop.set)

        watch = DatabaseWatch(store, "pauta services run", on_lost).start()

        def on_signal() -> None:
            if stop.is_set():
                click.echo("pauta services: stopped at once", err=True)
                os._exit(130)
            click.echo("pauta services: stopping (again to stop at once)", err=True)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        # the server that started this one is gone: a graceful stop, however it ended
        loop.add_signal_handler(signal.SIGHUP, stop.set)
        try:
            return await supervisor.run(stop)
        finally:
            watch.hold()  # once the database is lost, the watch ends the process
            watch.stop()

    try:
        kept = asyncio.run(main())
    finally:
        store.close()
    if not kept:
        sys.exit(EXIT_RUN_FAILED)


def _same_database(url: str) -> None:
    """Started by `pauta server`: exit (as the server will) when its SQLite file is not the one
    the server opened, instead of creating or migrating another one."""
    import os

    from pauta.cli.database_watch import EXIT_DATABASE_LOST
    from pauta.store.db import normalize_url, sqlite_path

    expected = os.environ.get("PAUTA_SERVICES_DATABASE_ID")
    path = sqlite_path(normalize_url(url)) if expected and url.startswith("sqlite") else None
    if path is None:
        return
    try:
        found = os.stat(path)
    except FileNotFoundError:
        found = None
    if found is None or f"{found.st_dev}:{found.st_ino}" != expected:
        click.echo(
            f"pauta services run: the database file {path} is not the one the server opened "
            "(deleted or replaced): not starting",
            err=True,
        )
        sys.exit(EXIT_DATABASE_LOST)


@services.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def services_list(as_json: bool) -> None:
    """Every service: state, revision serving, address, replicas, traffic."""
    from pauta.services.control import list_views

    with user_errors():
        views = list_views(open_store())
    if as_json:
        print_json(views)
        return
    if not views:
        click.echo("no services yet: a task deploys one with pauta.services.deploy(...)")
        return
    from rich.console import Console

    from pauta.cli import tables
    from pauta.cli.tables import Column

    rows = [
        (
            v["name"],
            v["state"],
            v["revision_id"] or "-",
            v["executor"],
            v["address"],
            _replicas(v),
            str(v["restarts"]),
            _rate(v["traffic"]),
            _ms(v["traffic"].get("p50_ms")),
            _ms(v["traffic"].get("p99_ms")),
        )
        for v in views
    ]
    columns = (
        Column("name"),
        Column("state"),
        Column("revision"),
        Column("executor"),
        Column("address"),
        Column("ready"),
        Column("restarts", justify="right"),
        Column("req/s", justify="right"),
        Column("p50", justify="right"),
        Column("p99", justify="right"),
    )
    Console().print(tables.build(columns, rows), crop=False)


@services.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def services_show(name: str, as_json: bool) -> None:
    """A service: its replicas (health, restarts), traffic, and revisions newest first."""
    from pauta.services.control import show

    with user_errors():
        view = show(open_store(), name)
    if as_json:
        print_json(view)
        return
    traffic = view["traffic"]
    click.echo(
        f"{view['name']} · {view['state']} · {view['executor']} · {view['address']} · serving "
        f"{view['revision_id'] or 'nothing'}"
        + (f" · deploying {view['name']}@{view['deploying']}" if view["deploying"] else "")
    )
    if view["problem"]:
        click.echo(f"problem: {view['problem']}")
    if view["executor"] == "ray":
        serve = view.get("serve") or {}
        click.echo(
            f"Ray Serve: application {view['name']} {serve.get('status') or 'not found'}"
            + (f" · {serve['message']}" if serve.get("message") else "")
            + " (replicas, restarts and metrics are Ray's: see its dashboard)"
        )
    click.echo(
        f"traffic: {traffic.get('requests', 0)} requests, {traffic.get('errors', 0)} errors, "
        f"{_rate(traffic)} req/s, p50 {_ms(traffic.get('p50_ms'))}, "
        f"p99 {_ms(traffic.get('p99_ms'))}"
    )
    click.echo("replicas:")
    for r in view["replicas"]:
        exit_note = f" · last exit: {r['last_exit']}" if r.get("last_exit") else ""
        where = f"node {r['node']}" if r.get("node") else f"port {r['port']}"
        click.echo(
            f"  {view['name']}@{r['revision']} #{r['index']}  {r['state']:<9} pid {r['pid']} "
            f"{where} · restarts {r['restarts']} · {r['health']}{exit_note}"
        )
    if not view["replicas"]:
        click.echo("  none")
    click.echo("revisions:")
    for rev in view["revisions"]:
        program = (rev["app"] and f"app {rev['app']}") or " ".join(rev["command"] or [])
        origin = f" (rollback to {rev['rollback_of']})" if rev["rollback_of"] else ""
        click.echo(
            f"  {rev['id']:<16} {rev['state']:<10} {(rev['created_at'] or '')[:19]}  "
            f"{program} x{rev['replicas']}{origin} · config {rev['config']} · "
            f"by {rev['created_by']}"
        )
        if rev["error"]:
            click.echo("    " + rev["error"].splitlines()[0])


@services.command("logs")
@click.argument("name")
@click.option("--revision", "revision", help="Revision (N or NAME@N; default: the one serving).")
@click.option("--lines", type=int, default=100, show_default=True, help="Lines per replica.")
def services_logs(name: str, revision: str | None, lines: int) -> None:
    """The last lines of each replica's log (on the supervisor's host)."""
    from pauta.services.control import logs, show

    if lines < 1:
        fail("--lines must be 1 or more")
    with user_errors():
        store = open_store()
        found = logs(store, name, revision=revision, lines=lines)
        on_ray = not found and show(store, name, limit=1)["executor"] == "ray"
    if on_ray:
        click.echo(
            f"{name} runs on Ray Serve: its replicas' logs are in Ray's log folders on each node "
            "(logs/serve/ under the session folder; the Ray dashboard shows them)"
        )
    elif not found:
        click.echo(f"no replica logs of {name} here (they are on the supervisor's host)")
    for label, text in found:
        click.echo(f"==> {label} <==")
        click.echo(text)


def _created_by() -> str:
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@services.command("rollback")
@click.argument("name")
@click.option("--to", "to", help="The revision to go back to (N or NAME@N; default: previous).")
@click.option("--no-wait", is_flag=True, help="Return once the new revision is recorded.")
@click.option("--json", "as_json", is_flag=True, help="Print the new revision as JSON.")
def services_rollback(name: str, to: str | None, no_wait: bool, as_json: bool) -> None:
    """Serve an earlier revision again (as a new revision running its spec).

    Waits until it serves; exit code 1 when it was not ready and was rolled back itself.
    """
    from pauta.services import control
    from pauta.services.spec import ServiceSpec
    from pauta.services.views import revision_view

    with user_errors():
        store = open_store()
        created = control.rollback(store, name, to, _created_by())
        if not as_json:
            click.echo(f"{created.id}: rolling back to {name}@{created.rollback_of}", err=True)
        final = created
        if not no_wait:
            timeout = control.wait_timeout(ServiceSpec.from_json(created.spec))
            final = control.wait_for(store, name, created.revision, timeout=timeout)
    _report(revision_view(final), as_json, no_wait)


@services.command("stop")
@click.argument("name")
@click.option("--no-wait", is_flag=True, help="Return once the stop is recorded.")
@click.option("--json", "as_json", is_flag=True, help="Print the service as JSON.")
def services_stop(name: str, no_wait: bool, as_json: bool) -> None:
    """Stop a service: requests in progress finish, then its replicas stop.

    Its revisions stay: a new deploy (or `pauta services rollback`) starts it again.
    """
    import threading

    from pauta.services import control

    with user_errors():
        store = open_store()
        view = control.stop(store, name)
        waited = 0.0
        pause = threading.Event()
        while not no_wait and view["state"] == "stopping" and waited < 60:
            pause.wait(0.2)
            waited += 0.2
            view = control.show(store, name)
    if as_json:
        print_json(view)
    else:
        click.echo(f"{name}: {view['state']}")


def _report(view: dict[str, Any], as_json: bool, no_wait: bool) -> None:
    if as_json:
        print_json(view)
    elif view["ready_at"] is not None:
        click.echo(f"{view['id']} serves")
    elif no_wait:
        click.echo(f"{view['id']} is {view['state']}")
    else:
        click.echo(f"{view['id']} {view['state']}: {view['error'] or ''}", err=True)
    if not no_wait and view["ready_at"] is None:
        sys.exit(EXIT_RUN_FAILED)


def _replicas(view: dict[str, Any]) -> str:
    current = [r for r in view["replicas"] if r["revision"] == view["revision"]]
    ready = sum(r["state"] == "READY" for r in current)
    return f"{ready}/{len(current)}" if current else "-"


def _rate(traffic: dict[str, Any]) -> str:
    rps = traffic.get("rps")
    return f"{rps:g}" if rps is not None else "-"


def _ms(value: float | None) -> str:
    return f"{value:.1f}ms" if value is not None else "-"
