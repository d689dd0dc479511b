"""`pauta runs mark-success` and `pauta runs clear`: steer a finished run by hand."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from pauta.cli.common import fail, open_store, print_json, user_errors


def _user() -> str:
    """Who a mark made from the CLI is recorded as: the CLI is trusted on a host that reaches
    the database, so the operating-system user (as `trigger` does, without a login)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _done(run: Any, message: str, as_json: bool) -> None:
    if as_json:
        from pauta.app.runs import run_view

        print_json(run_view(run))
        return
    click.echo(f"{message}; run {run.id} is {run.state}: a worker replays it")


@click.command("mark-success")
@click.argument("run_id")
@click.argument("key")
@click.option(
    "--result",
    "result_json",
    metavar="JSON",
    help="The call's result for its dependents, as JSON (default: null).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the queued run as JSON only.")
def runs_mark_success(run_id: str, key: str, result_json: str | None, as_json: bool) -> None:
    """Mark a FAILED, UPSTREAM_FAILED, CANCELLED or SKIPPED task call of a finished run
    SUCCEEDED and queue the run: its skipped and upstream-failed dependents run with the
    marked result."""
    from pauta.app.steering import mark_success

    result = None
    if result_json is not None:
        try:
            result = json.loads(result_json)
        except json.JSONDecodeError as exc:
            fail(f"--result is not JSON ({exc}); quote it, e.g. --result '{{\"rows\": 3}}'")
    with user_errors():
        try:
            run = mark_success(open_store(), run_id, key, user=_user(), result=result)
        except ValueError as exc:
            fail(str(exc))
    _done(run, f"{key} marked SUCCEEDED", as_json)


@click.command("clear")
@click.argument("run_id")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the queued run as JSON only.")
def runs_clear(run_id: str, key: str, as_json: bool) -> None:
    """Clear a finished task call (SUCCEEDED included) and the finished calls downstream of
    it, and queue the run: they run again, each as a new attempt."""
    from pauta.app.steering import clear_task

    with user_errors():
        run = clear_task(open_store(), run_id, key)
    _done(run, f"{key} and its downstream calls cleared", as_json)
