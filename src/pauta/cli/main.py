"""``pauta`` commands. Heavy modules are imported inside commands so ``pauta --help`` is quick."""

from __future__ import annotations

import click

from pauta.cli.admin import db, pools
from pauta.cli.flows import flows
from pauta.cli.run import run
from pauta.cli.runs import logs, runs
from pauta.cli.scheduler import backfill, scheduler, server
from pauta.cli.users import tokens, users
from pauta.cli.worker import trigger, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pauta")
def main() -> None:
    """pauta: dynamic, durable workflows for machine-learning pipelines."""


COMMANDS = (
    run, server, trigger, backfill, scheduler, worker, runs, logs, flows, pools, users, tokens, db,
)  # fmt: skip
for command in COMMANDS:
    main.add_command(command)


def entry() -> None:
    """The ``pauta`` console script: run a command, then exit without the interpreter's
    module teardown (0.1-0.2 s that nobody waits for usefully)."""
    from pauta.core.process import exit_quickly

    try:
        main()
    except SystemExit as exc:
        exit_quickly(exc.code)
    exit_quickly(0)
