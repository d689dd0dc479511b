"""`pauta envs ...`: the virtualenvs that venv tasks run in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from pauta.cli.common import fail, print_json


@click.group()
def envs() -> None:
    """Virtualenvs of `isolation="venv"` tasks (under the pauta home's envs/, or PAUTA_ENVS_DIR)."""


@envs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def envs_list(as_json: bool) -> None:
    """Each environment: its requirements, Python, size, when it was last used."""
    store = _environments()
    found = store.list()
    if as_json:
        print_json([info.to_json() for info in found])
        return
    if not found:
        click.echo(f"no environments in {store.root}")
        return
    click.echo("KEY\tSTATE\tPYTHON\tSIZE\tLAST USED\tREQUIREMENTS")
    for info in found:
        click.echo(
            f"{info.key}\t{_state(info)}\t{info.python_version or '?'}\t{_size(info.size_bytes)}"
            f"\t{_when(info.last_used or info.built_at)}\t{' '.join(info.requirements) or '-'}"
        )


@envs.command("prune")
@click.option(
    "--older-than",
    "days",
    type=float,
    default=30.0,
    show_default=True,
    help="Remove environments not used for this many days.",
)
@click.option("--all", "everything", is_flag=True, help="Remove every environment not in use.")
@click.option("--json", "as_json", is_flag=True, help="Print the removed ones as a JSON array.")
def envs_prune(days: float, everything: bool, as_json: bool) -> None:
    """Remove unused environments; one in use by a running worker, or being built, stays.

    Environments left incomplete by an interrupted build always go. A task whose environment
    was removed gets it built again on its next attempt.
    """
    from pauta.core.clock import get_clock

    if days < 0:
        fail("--older-than must be 0 days or more")
    store = _environments()
    now = get_clock().timestamp()
    removed = store.prune(unused_for=days * 86400, everything=everything, now=now)
    if as_json:
        print_json([info.to_json() for info in removed])
        return
    if not removed:
        click.echo("nothing to prune")
        return
    total = sum(info.size_bytes for info in removed)
    for info in removed:
        click.echo(f"removed {info.key}\t{' '.join(info.requirements) or '-'}")
    plural = "s" if len(removed) != 1 else ""
    click.echo(f"{len(removed)} environment{plural}, {_size(total)} freed")


def _environments() -> Any:
    from pauta.core.settings import Settings
    from pauta.executors.envs import Environments

    return Environments(Settings.from_env().envs_dir)


def _state(info: Any) -> str:
    if not info.complete:
        return "incomplete"
    return "in use" if info.in_use else "ready"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")
