"""`pauta db ...` and `pauta pools ...`."""

from __future__ import annotations

import click

from pauta.cli.common import (
    fail,
    open_store,
    print_json,
    user_errors,
)


@click.group()
def db() -> None:
    """The metadata database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (they also run automatically on first use)."""
    from pauta.connections.urls import masked
    from pauta.core.settings import Settings
    from pauta.store.migrations import upgrade

    settings = Settings.from_env()
    settings.ensure_home()
    with user_errors():
        upgrade(settings.database_url)
    click.echo(f"database at head: {masked(settings.database_url)}")


@click.group()
def pools() -> None:
    """Named pools cap how many tasks of a kind run at once (e.g. a database's connections)."""


@pools.command("set")
@click.argument("name")
@click.argument("slots", type=int)
def pools_set(name: str, slots: int) -> None:
    """Create or resize a pool; tasks take `pool_slots` of it (`@task(pool="db")`)."""
    if slots < 0:
        fail("SLOTS must be 0 or more (0 holds the pool's tasks back)")
    with user_errors():
        open_store().set_pool(name, slots)
    click.echo(f"pool {name}: {slots} slots")


@pools.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def pools_list(as_json: bool) -> None:
    """Pools and their slots."""
    with user_errors():
        found = open_store().list_pools()
    if as_json:
        print_json([{"name": name, "slots": slots} for name, slots in sorted(found.items())])
        return
    if not found:
        click.echo("no pools; create one with `pauta pools set NAME SLOTS`")
    for name, slots in sorted(found.items()):
        click.echo(f"{name}\t{slots}")


# flows ----------------------------------------------------------------------------------------
