"""``pauta`` commands.

Each command's module is imported only when that command runs (or for ``--help``), and heavy
modules are imported inside commands, so a command pays only for what it uses.
"""

from __future__ import annotations

import importlib

import click

# command name -> module under pauta.cli defining it (as a function of the same name)
COMMANDS = {
    "run": "run",
    "server": "scheduler",
    "trigger": "trigger",
    "backfill": "scheduler",
    "scheduler": "scheduler",
    "worker": "worker",
    "runs": "runs",
    "logs": "runs",
    "flows": "flows",
    "pools": "admin",
    "users": "users",
    "tokens": "users",
    "db": "admin",
    "envs": "envs",
    "connections": "connections",
    "services": "services",
    "plugins": "plugins",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(f"pauta.cli.{module}"), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pauta")
def main() -> None:
    """pauta: dynamic, durable workflows for machine-learning pipelines."""
