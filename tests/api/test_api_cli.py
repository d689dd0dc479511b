"""`pauta users` and `pauta tokens`, and `pauta server` serving the API with a first admin."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pauta.app import users
from pauta.cli.main import main
from pauta.core.settings import Settings
from pauta.store.repository import Store


def _store() -> Store:
    return Store.from_settings(Settings.from_env())


def test_users_create_list_and_tokens(home: Path) -> None:
    cli = CliRunner()
    made = cli.invoke(main, ["users", "create", "ada", "--role", "operator", "--password", "x" * 9])
    assert made.exit_code == 0, made.output
    stdin = cli.invoke(
        main,
        ["users", "create", "bob", "--role", "viewer", "--password-stdin"],
        input="pw-bob-123\n",
    )
    assert stdin.exit_code == 0, stdin.output
    prompted = cli.invoke(
        main, ["users", "create", "cy", "--role", "admin"], input="pw-cy-1234\npw-cy-1234\n"
    )
    assert prompted.exit_code == 0, prompted.output
    listed = cli.invoke(main, ["users", "list", "--json"])
    assert [(u["username"], u["role"]) for u in json.loads(listed.output)] == [
        ("ada", "operator"),
        ("bob", "viewer"),
        ("cy", "admin"),
    ]
    with _store() as store:
        assert users.authenticate(store, "bob", "pw-bob-123") == users.User("bob", "viewer")
        assert users.authenticate(store, "cy", "pw-cy-1234") == users.User("cy", "admin")
    token = cli.invoke(main, ["tokens", "create", "ada"])
    assert token.exit_code == 0
    value = token.stdout.strip().splitlines()[-1]
    with _store() as store:
        assert users.user_for_token(store, value) == users.User("ada", "operator")
    listed = json.loads(cli.invoke(main, ["tokens", "list", "ada", "--json"]).output)
    [token_id] = [t["id"] for t in listed]
    assert token_id in token.stderr  # `tokens create` names the id to revoke it by
    revoked = cli.invoke(main, ["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    with _store() as store:
        assert users.user_for_token(store, value) is None
    assert cli.invoke(main, ["tokens", "revoke", token_id]).exit_code == 2
    assert "no API tokens" in cli.invoke(main, ["tokens", "list"]).output


def test_tokens_may_expire(home: Path) -> None:
    cli = CliRunner()
    args = ["users", "create", "ada", "--role", "viewer", "--password", "x" * 9]
    assert cli.invoke(main, args).exit_code == 0
    made = cli.invoke(main, ["tokens", "create", "ada", "--expires", "90d"])
    assert made.exit_code == 0, made.output
    assert "expires" in made.stderr
    assert cli.invoke(main, ["tokens", "create", "ada"]).exit_code == 0
    listed = json.loads(cli.invoke(main, ["tokens", "list", "ada", "--json"]).output)
    [expiring] = [t for t in listed if t["expires_at"]]
    created = datetime.fromisoformat(expiring["created_at"])
    assert datetime.fromisoformat(expiring["expires_at"]) - created == timedelta(days=90)
    table = cli.invoke(main, ["tokens", "list"]).output.splitlines()
    assert any(f"expires {expiring['expires_at']}" in line for line in table)
    assert any("never expires" in line for line in table)
    with _store() as store:
        users.issue_token(store, "ada", timedelta(minutes=-1))  # as if created long ago
    table = cli.invoke(main, ["tokens", "list"]).output
    assert "\texpired " in table
    bad = cli.invoke(main, ["tokens", "create", "ada", "--expires", "3 months"])
    assert bad.exit_code == 2
    assert "like 90d, 12h or 30m" in bad.output


def test_users_password_and_delete(home: Path) -> None:
    cli = CliRunner()
    for name, role in (("ada", "admin"), ("bob", "viewer")):
        args = ["users", "create", name, "--role", role, "--password", "x" * 9]
        assert cli.invoke(main, args).exit_code == 0
    with _store() as store:
        session, _csrf = users.start_session(store, users.User("bob", "viewer"))
    args = ["users", "password", "bob", "--password-stdin"]
    changed = cli.invoke(main, args, input="new-pw-123\n")
    assert changed.exit_code == 0, changed.output
    assert "1 session(s) ended" in changed.output
    with _store() as store:
        assert users.authenticate(store, "bob", "new-pw-123") == users.User("bob", "viewer")
        assert users.session_user(store, session) is None
    short = cli.invoke(main, ["users", "password", "bob", "--password", "short"])
    assert short.exit_code == 2
    assert "at least 8" in short.output
    unknown = cli.invoke(main, ["users", "password", "nobody", "--password", "x" * 9])
    assert unknown.exit_code == 2
    assert "no user named 'nobody'" in unknown.output
    promoted = cli.invoke(main, ["users", "role", "bob", "--role", "operator"])
    assert promoted.exit_code == 0, promoted.output
    demoted = cli.invoke(main, ["users", "role", "ada", "--role", "viewer"])
    assert demoted.exit_code == 2
    assert "last admin" in demoted.output
    assert cli.invoke(main, ["users", "delete", "bob"], input="n\n").exit_code == 1  # kept
    deleted = cli.invoke(main, ["users", "delete", "bob"], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    last = cli.invoke(main, ["users", "delete", "ada", "--yes"])
    assert last.exit_code == 2
    assert "last admin" in last.output
    listed = cli.invoke(main, ["users", "list", "--json"])
    assert [(u["username"], u["role"]) for u in json.loads(listed.output)] == [("ada", "admin")]


@pytest.mark.parametrize(
    "args",
    [
        ["users", "create", "ada", "--role", "root", "--password", "x" * 9],
        ["users", "create", "ada", "--role", "viewer", "--password", "short"],
        ["users", "create", "ada", "--role", "viewer", "--password", "x" * 9, "--password-stdin"],
        ["tokens", "create", "nobody"],
    ],
)
def test_bad_user_commands_exit_2(home: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "error" in result.output.lower() or "invalid" in result.output.lower()


def test_a_taken_user_name_exits_2(home: Path) -> None:
    cli = CliRunner()
    args = ["users", "create", "ada", "--role", "viewer", "--password", "x" * 9]
    assert cli.invoke(main, args).exit_code == 0
    again = cli.invoke(main, args)
    assert again.exit_code == 2
    assert "exists already" in again.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_server_creates_an_admin_and_serves_the_api(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hello.py").write_text("from pauta import flow\n\n@flow\ndef hello() -> None: ...\n")
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home")}
    env.pop("PAUTA_DATABASE_URL", None)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pauta", "server", "--flows", str(flows), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"{base}/health")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200
        assert _get(f"{base}/api/v1/flows")[0] == 401
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    password = re.search(r"user 'admin' \(admin\) with password (\S+)", stderr)
    assert password, stderr
    with Store.from_settings(Settings.from_env(tmp_path / "home")) as store:
        assert users.authenticate(store, "admin", password.group(1)) == users.User("admin", "admin")
        token = users.create_token(store, "admin")
    # a second start creates no second admin, and the token works
    server = subprocess.Popen(
        [sys.executable, "-m", "pauta", "server", "--flows", str(flows), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        status, body = _get(f"{base}/api/v1/flows", token)
        assert status == 200
        assert [f["name"] for f in json.loads(body)] == ["hello"]
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert "password" not in stderr
    assert "Traceback" not in stderr


def test_token_ids_can_always_be_given_to_tokens_revoke(tmp_path: Path) -> None:
    # an id beginning with "-" would be read as an option of `pauta tokens revoke`
    with Store(f"sqlite:///{tmp_path / 'ids.db'}") as store:
        users.create_user(store, "ada", "pw-ada-1234", "viewer")
        ids = [users.issue_token(store, "ada").id for _ in range(200)]
    assert all(token_id[0].isalnum() for token_id in ids), ids
