"""`pauta users ...` and `pauta tokens ...`: who may use the API and the web UI."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from pauta.cli.common import fail, open_store, print_json, user_errors

ROLE = click.Choice(["admin", "operator", "viewer"])


@click.group()
def users() -> None:
    """Users of the API and the web UI, with their roles (admin, operator, viewer)."""


def _read_password(password: str | None, from_stdin: bool) -> str:
    if password is not None and from_stdin:
        fail("give --password or --password-stdin, not both")
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        return password
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


@users.command("create")
@click.argument("username")
@click.option("--role", type=ROLE, required=True, help="What the user may do.")
@click.option("--password", help="The password (visible in the process list: prefer a prompt).")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the password from stdin.")
def users_create(username: str, role: str, password: str | None, from_stdin: bool) -> None:
    """Add a user; the password is asked for unless --password or --password-stdin gives it.

    admin may do everything (users, pools); operator may also trigger, retry, cancel, resume
    and pause; viewer may read.
    """
    from pauta.app.users import create_user

    secret = _read_password(password, from_stdin)
    with user_errors():
        create_user(open_store(), username, secret, role)
    click.echo(f"user {username} created ({role})")


@users.command("password")
@click.argument("username")
@click.option("--password", help="The password (visible in the process list: prefer a prompt).")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the password from stdin.")
def users_password(username: str, password: str | None, from_stdin: bool) -> None:
    """Reset a user's password (asked for unless given) and log the user out everywhere.

    Like every `pauta users` command this acts with the store's own access, as an admin does,
    so the current password is not asked for; users change their own through the API, with
    their current password. The user's API tokens keep working: `pauta tokens list USERNAME`
    and `pauta tokens revoke`.
    """
    from pauta.app.users import change_password

    secret = _read_password(password, from_stdin)
    with user_errors():
        ended = change_password(open_store(), username, secret)
    click.echo(f"password of {username} changed; {ended} session(s) ended")


@users.command("role")
@click.argument("username")
@click.option("--role", type=ROLE, required=True, help="The new role.")
def users_role(username: str, role: str) -> None:
    """Give a user another role; its sessions and tokens have it at once (never demotes the
    last admin)."""
    from pauta.app.users import set_role

    with user_errors():
        set_role(open_store(), username, role)
    click.echo(f"user {username} is now {role}")


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(username: str, yes: bool) -> None:
    """Remove a user with its API tokens and sessions (never the last admin)."""
    from pauta.app.users import delete_user

    if not yes:
        click.confirm(f"delete user {username} and its API tokens?", abort=True)
    with user_errors():
        delete_user(open_store(), username)
    click.echo(f"user {username} deleted")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def users_list(as_json: bool) -> None:
    """Users and their roles."""
    from pauta.app.users import list_users

    with user_errors():
        found = list_users(open_store())
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo("no users yet: `pauta server` creates an admin on its first start")
    for user in found:
        click.echo(f"{user['username']}\t{user['role']}")


@click.group()
def tokens() -> None:
    """API tokens: send one as `Authorization: Bearer TOKEN`."""


@tokens.command("create")
@click.argument("username")
@click.option(
    "--expires",
    metavar="LIFETIME",
    help="How long the token works: 90d, 12h, 30m (default: until revoked).",
)
def tokens_create(username: str, expires: str | None) -> None:
    """Create an API token for USERNAME and print it (last line); it is shown only once."""
    from pauta.app.users import issue_token, parse_lifetime

    with user_errors():
        lifetime = parse_lifetime(expires) if expires is not None else None
        issued = issue_token(open_store(), username, lifetime)
    until = f"expires {issued.expires_at.isoformat()}" if issued.expires_at else "never expires"
    click.echo(
        f"API token {issued.id} for {username}, {until} (shown only once; keep it secret; "
        f"revoke it with `pauta tokens revoke {issued.id}`):",
        err=True,
    )
    click.echo(issued.token)


@tokens.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def tokens_list(username: str | None, as_json: bool) -> None:
    """API tokens (of USERNAME, or of everyone): id, user, created, last used, expiry. The
    tokens themselves are not stored, only their hashes."""
    from pauta.app.users import list_tokens
    from pauta.core.clock import utcnow

    with user_errors():
        found = list_tokens(open_store(), username)
    now = utcnow()
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo("no API tokens")
    for token in found:
        used = token["last_used_at"] or "never used"
        until = _expiry(token["expires_at"], now)
        click.echo(f"{token['id']}\t{token['username']}\t{token['created_at']}\t{used}\t{until}")


def _expiry(expires_at: str | None, now: datetime) -> str:
    if expires_at is None:
        return "never expires"
    return f"{'expired' if datetime.fromisoformat(expires_at) <= now else 'expires'} {expires_at}"


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id: str) -> None:
    """Revoke the API token TOKEN_ID (see `pauta tokens list`): it stops working at once."""
    from pauta.app.users import revoke_token

    with user_errors():
        revoke_token(open_store(), token_id)
    click.echo(f"token {token_id} revoked")
