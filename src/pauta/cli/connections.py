"""`pauta connections ...`: named places with credentials, sealed in the metadata store."""

from __future__ import annotations

import sys
from typing import Any

import click

from pauta.cli.common import EXIT_RUN_FAILED, fail, open_store, print_json, user_errors


@click.group()
def connections() -> None:
    """Connections: databases, object stores and HTTP services by name, for `connection(NAME)`
    in code. URLs and secret extras are encrypted at rest; PAUTA_CONN_<NAME> overrides."""


def _opened() -> tuple[Any, Any]:
    from pauta.core.settings import Settings

    return open_store(), Settings.from_env().home


def _read_secret(label: str) -> str:
    """One secret: asked for (hidden) on a terminal, else one line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt(label, hide_input=True))
    line = sys.stdin.readline()
    if not line:
        fail(f"{label}: stdin ended before it was given (one line each, in order)")
    return line.rstrip("\r\n")


@connections.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--extra", "extras", multiple=True, metavar="KEY=VALUE", help="An extra (repeatable)."
)
@click.option(
    "--secret-extra",
    "secret_extras",
    multiple=True,
    metavar="KEY[=VALUE]",
    help="A secret extra, encrypted and masked; without =VALUE it is asked for (repeatable).",
)
@click.option(
    "--ask-password",
    is_flag=True,
    help="Ask for the password (or read it from stdin) and put it in the URL's user info.",
)
@click.option("--force", is_flag=True, help="Replace a connection of this name.")
def connections_add(
    name: str,
    url: str,
    extras: tuple[str, ...],
    secret_extras: tuple[str, ...],
    ask_password: bool,
    force: bool,
) -> None:
    """Add connection NAME for URL (`-` reads the URL from stdin, keeping its password out of
    the process list), e.g. `pauta connections add warehouse postgresql://etl@db/wh
    --ask-password`.

    Extras whose names look secret (password, secret, token, key...) are secret whether or
    not --secret-extra marks them. Secrets asked for come from stdin, one line each, in the
    order URL, password, secret extras, when stdin is not a terminal.
    """
    from pauta.app.connections import add_connection
    from pauta.connections.rules import parse_pairs
    from pauta.connections.urls import password_of, user_of, with_password

    with user_errors():
        plain = parse_pairs(extras)
        given = [pair for pair in secret_extras if "=" in pair]
        asked = [pair.strip() for pair in secret_extras if "=" not in pair]
        hidden = parse_pairs(given, "--secret-extra")
        if url == "-":
            url = _read_secret("URL")
        elif password_of(url):
            click.echo(
                "note: the URL's password was visible to other users of this machine in the "
                "process list while this command ran; pass - as the URL (or --ask-password) "
                "to read it from stdin instead",
                err=True,
            )
        if ask_password:
            if user_of(url) is None:
                fail("--ask-password needs a user in the URL (scheme://USER@host/...)")
            url = with_password(url, _read_secret("password"))
        for key in asked:
            hidden[key] = _read_secret(f"secret extra {key}")
        store, home = _opened()
        view, created = add_connection(
            store, home, name, url, extras=plain, secret_extras=hidden, replace=force
        )
    click.echo(f"connection {name} {'added' if created else 'replaced'}: {view['url']}")
    if view["overridden"]:
        click.echo(
            f"note: {view['env_var']} is set here and wins over the stored connection", err=True
        )


@connections.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def connections_list(as_json: bool) -> None:
    """Connections, by name, with credentials masked: stored ones and those only the
    environment (PAUTA_CONN_<NAME>) gives."""
    from pauta.app.connections import list_connections

    with user_errors():
        views = list_connections(*_opened())
    if as_json:
        print_json(views)
        return
    if not views:
        click.echo("no connections; add one with `pauta connections add NAME URL`")
        return
    from rich.console import Console
    from rich.text import Text

    from pauta.cli import tables
    from pauta.cli.tables import Column, Fit

    rows = [
        (
            Text(v["name"]),
            Text(v["url"]),
            Text(_extras(v["extras"]) or "-"),
            Text(_source(v)),
        )
        for v in views
    ]
    columns = (
        Column("name"),
        Column("url"),
        Column("extras", Fit.DETAIL),
        Column("source"),
    )
    Console().print(tables.build(columns, rows), crop=False)


def _extras(extras: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in extras.items())


def _source(view: dict[str, Any]) -> str:
    if view["source"] == "environment":
        return f"{view['env_var']} (overrides the store)" if view["stored"] else view["env_var"]
    return "store"


@connections.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def connections_show(name: str, as_json: bool) -> None:
    """The connection NAME resolves to (PAUTA_CONN_<NAME> first), credentials masked."""
    from pauta.app.connections import show_connection

    with user_errors():
        view = show_connection(*_opened(), name)
    if as_json:
        print_json(view)
        return
    lines = [
        ("name", view["name"]),
        ("url", view["url"]),
        ("host", view["host"] or "-"),
        ("extras", _extras(view["extras"]) or "-"),
        ("source", _source(view)),
        ("created", view["created_at"] or "-"),
        ("updated", view["updated_at"] or "-"),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':9}{value}")


@connections.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def connections_test(name: str, as_json: bool) -> None:
    """Connect to NAME and say what was reached: a SQL server's version after SELECT 1, an
    HTTP status, a filesystem's listing; exit code 1 when it cannot be reached."""
    from pauta.app.connections import test_connection

    with user_errors():
        result = test_connection(*_opened(), name)
    if as_json:
        print_json(result)
    elif result["ok"]:
        click.echo(result["message"])
    else:
        click.echo(f"error: {result['message']}", err=True)
    if not result["ok"]:
        sys.exit(EXIT_RUN_FAILED)


@connections.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def connections_delete(name: str, yes: bool) -> None:
    """Remove the stored connection NAME (works without the key); PAUTA_CONN_<NAME> stays."""
    from pauta.app.connections import delete_connection

    if not yes:
        click.confirm(f"delete connection {name}?", abort=True)
    with user_errors():
        delete_connection(*_opened(), name)
    click.echo(f"connection {name} deleted")


@connections.command("rotate-key")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def connections_rotate_key(as_json: bool) -> None:
    """Encrypt every stored connection again with a new key.

    With PAUTA_SECRET_KEY set, its first key is the new one: put the new key first
    (PAUTA_SECRET_KEY=NEW,OLD), run this, then drop OLD. Without it, a new key is made and
    replaces the key file's.
    """
    from pauta.app.connections import rotate_key

    with user_errors():
        rotated = rotate_key(*_opened())
    if as_json:
        print_json(rotated)
        return
    click.echo(
        f"{rotated['resealed']} connection(s) encrypted again with key {rotated['key_id']} "
        f"from {rotated['where']}"
    )


@connections.command("generate-key")
def connections_generate_key() -> None:
    """Print a new key for PAUTA_SECRET_KEY (a Fernet key); keep it secret."""
    from pauta.connections.keys import new_key

    click.echo(new_key())
