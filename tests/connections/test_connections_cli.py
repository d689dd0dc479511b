"""`pauta connections ...` as a user runs it: real subprocesses, a real pauta home, real
servers; credentials never printed, never on disk in the clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from connections_support import S3_KEY, S3_SECRET
from cryptography.fernet import Fernet

pytestmark = pytest.mark.slow

PASSWORD = "cli-pw-6d2f8e1a"
SECRET = "cli-secret-93be47"


def pauta(
    home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PAUTA_HOME": str(home), **(env or {})}
    for name in [n for n in full if n.startswith("PAUTA_CONN_")]:
        if name not in (env or {}):
            del full[name]
    full.pop("PAUTA_DATABASE_URL", None)
    if "PAUTA_SECRET_KEY" not in (env or {}):
        full.pop("PAUTA_SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=full,
        input=stdin,
        timeout=90,
        cwd=home.parent,
    )


def assert_nowhere(home: Path, *values: str) -> None:
    """None of ``values`` is in any file under ``home`` (the database, its WAL, logs, results,
    the key file...)."""
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in values:
                assert value.encode() not in data, f"{value!r} found in {path}"


def pg_with_password(pg_url: str) -> str:
    # PostgreSQL trusts local connections: the password is never checked, only carried
    return pg_url.replace("postgres@", f"postgres:{PASSWORD}@").replace("+psycopg", "")


@pytest.mark.postgres
def test_add_list_show_test_delete(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "home"
    url = pg_with_password(pg_url)
    added = pauta(
        home,
        "connections",
        "add",
        "warehouse",
        "-",
        "--extra",
        "schema=analytics",
        "--secret-extra",
        f"aws_token={SECRET}",
        stdin=url + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "connection warehouse added: postgresql://postgres:***@127.0.0.1:5432/" in added.stdout
    assert "process list" not in added.stderr  # read from stdin: nothing to warn about

    listed = pauta(home, "connections", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [view] = json.loads(listed.stdout)
    assert view["name"] == "warehouse"
    assert view["url"].startswith("postgresql://postgres:***@127.0.0.1:5432/")
    assert view["extras"] == {"aws_token": "***", "schema": "analytics"}
    assert view["secret_extras"] == ["aws_token"]
    assert view["source"] == "store"
    assert view["stored"] is True

    table = pauta(home, "connections", "list")
    assert "warehouse" in table.stdout
    assert "postgres:***@" in table.stdout

    shown = pauta(home, "connections", "show", "warehouse", "--json")
    assert json.loads(shown.stdout)["url"] == view["url"]
    text = pauta(home, "connections", "show", "warehouse")
    assert "url:     postgresql://postgres:***@" in text.stdout

    tested = pauta(home, "connections", "test", "warehouse", "--json")
    assert tested.returncode == 0, tested.stderr
    result = json.loads(tested.stdout)
    assert result["ok"] is True
    assert result["kind"] == "sql"
    assert "SELECT 1 returned 1; server: PostgreSQL" in result["message"]

    everything = [added, listed, table, shown, text, tested]
    for done in everything:
        assert PASSWORD not in done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert_nowhere(home, PASSWORD, SECRET)

    deleted = pauta(home, "connections", "delete", "warehouse", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(pauta(home, "connections", "list", "--json").stdout) == []
    gone = pauta(home, "connections", "show", "warehouse")
    assert gone.returncode == 2
    assert "no connection named 'warehouse'" in gone.stderr


def test_a_url_on_the_command_line_is_masked_and_warned_about(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"postgresql://etl:{PASSWORD}@127.0.0.1:1/wh"
    added = pauta(home, "connections", "add", "wh", url)
    assert added.returncode == 0, added.stderr
    assert "process list" in added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    again = pauta(home, "connections", "add", "wh", url)
    assert again.returncode == 2
    assert "--force" in again.stderr
    replaced = pauta(home, "connections", "add", "wh", "sqlite:///x.db", "--force")
    assert "connection wh replaced" in replaced.stdout


def test_passwords_and_secret_extras_asked_for_come_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = pauta(
        home,
        "connections",
        "add",
        "api",
        "https://bot@api.example/v1",
        "--ask-password",
        "--secret-extra",
        "token",
        stdin=f"{PASSWORD}\n{SECRET}\n",
    )
    assert added.returncode == 0, added.stderr
    view = json.loads(pauta(home, "connections", "show", "api", "--json").stdout)
    assert view["url"] == "https://bot:***@api.example/v1"
    assert view["extras"] == {"token": "***"}
    assert_nowhere(home, PASSWORD, SECRET)


def test_an_unreachable_connection_exits_one_and_says_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pauta(
        home, "connections", "add", "down", "-", stdin=f"postgresql://u:{PASSWORD}@127.0.0.1:1/x\n"
    )
    tested = pauta(home, "connections", "test", "down")
    assert tested.returncode == 1
    assert "error: could not reach postgresql://u:***@127.0.0.1:1/x" in tested.stderr
    assert PASSWORD not in tested.stderr
    assert pauta(home, "connections", "test", "nowhere").returncode == 2


def test_a_local_folder_and_the_environment_override(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-0.parquet").write_bytes(b"x")
    assert pauta(home, "connections", "add", "files", f"file://{data}").returncode == 0
    tested = pauta(home, "connections", "test", "files")
    assert tested.returncode == 0, tested.stderr
    assert "1 entry: part-0.parquet" in tested.stdout

    other = tmp_path / "other"
    other.mkdir()
    env = {"PAUTA_CONN_FILES": f"file://{other}", "PAUTA_CONN_ONLY_ENV": "sqlite://"}
    shown = json.loads(pauta(home, "connections", "show", "files", "--json", env=env).stdout)
    assert shown["source"] == "environment"
    assert shown["url"] == f"file://{other}"
    assert shown["overridden"] is True
    listed = json.loads(pauta(home, "connections", "list", "--json", env=env).stdout)
    assert [(v["name"], v["source"], v["stored"]) for v in listed] == [
        ("files", "environment", True),
        ("only_env", "environment", False),
    ]
    tested = pauta(home, "connections", "test", "files", env=env)
    assert "0 entries" in tested.stdout
    deleted = pauta(home, "connections", "delete", "only_env", "--yes", env=env)
    assert deleted.returncode == 2  # nothing stored to delete
    assert "is stored" in deleted.stderr


def test_a_wrong_key_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = {"PAUTA_SECRET_KEY": Fernet.generate_key().decode()}
    stdin = f"sqlite:///{PASSWORD}.db\n"
    added = pauta(home, "connections", "add", "wh", "-", stdin=stdin, env=first)
    assert added.returncode == 0, added.stderr
    assert not (home / "secret.key").exists()  # the environment's key was used
    wrong = {"PAUTA_SECRET_KEY": Fernet.generate_key().decode()}
    for command in (["list"], ["show", "wh"], ["test", "wh"]):
        done = pauta(home, "connections", *command, env=wrong)
        assert done.returncode == 2, command
        assert "Traceback" not in done.stderr
        assert "PAUTA_SECRET_KEY" in done.stderr
        assert "cannot open connection 'wh'" in done.stderr
    missing = pauta(home, "connections", "show", "wh")
    assert missing.returncode == 2
    assert "PAUTA_SECRET_KEY is not set" in missing.stderr
    assert str(home / "secret.key") in missing.stderr
    malformed = pauta(home, "connections", "list", env={"PAUTA_SECRET_KEY": "nope"})
    assert malformed.returncode == 2
    assert "generate-key" in malformed.stderr
    assert pauta(home, "connections", "show", "wh", env=first).returncode == 0


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert pauta(home, "connections", "add", "wh", "sqlite:///x.db").returncode == 0
    key_file = home / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.chmod(0o644)
    done = pauta(home, "connections", "list")
    assert done.returncode == 2
    assert f"chmod 600 {key_file}" in done.stderr
    assert "Traceback" not in done.stderr


def test_rotate_key_and_generate_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pauta(home, "connections", "add", "wh", "-", stdin=f"postgresql://u:{PASSWORD}@h/db\n")
    before = (home / "secret.key").read_text()
    rotated = pauta(home, "connections", "rotate-key", "--json")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["resealed"] == 1
    assert (home / "secret.key").read_text() != before
    assert pauta(home, "connections", "show", "wh").returncode == 0
    key = pauta(home, "connections", "generate-key").stdout.strip()
    Fernet(key)  # a valid key


FLOW = """
from pauta import connection, flow, task


@task
def leak() -> str:
    db = connection("warehouse")
    print("connecting to", db.url)
    print("extras", dict(db.extras))
    raise RuntimeError(f"cannot load into {db.url} with token {db.extras['token']}")


@task
def url() -> str:
    return connection("warehouse").url


@flow
def leaky() -> None:
    leak().result()


@flow
def returns_url() -> str:
    return url().result()
"""


def test_a_task_printing_and_raising_with_the_url_shows_it_masked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flows = tmp_path / "leaky_flows.py"
    flows.write_text(FLOW)
    url = f"postgresql://etl:{PASSWORD}@db.example/wh"
    added = pauta(
        home, "connections", "add", "warehouse", "-", "--secret-extra", "token",
        stdin=f"{url}\n{SECRET}\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    failed = pauta(home, "run", f"{flows}:leaky")
    assert failed.returncode == 1
    shown_error = " ".join(failed.stderr.split())  # the summary wraps long lines
    assert "cannot load into postgresql://etl:***@db.example/wh with token ***" in shown_error
    [run] = json.loads(pauta(home, "runs", "list", "--json").stdout)
    view = json.loads(pauta(home, "runs", "show", run["id"], "--json").stdout)
    [task] = view["tasks"]
    assert "postgresql://etl:***@db.example/wh" in task["error"]["message"]
    assert PASSWORD not in json.dumps(view)
    assert SECRET not in json.dumps(view)
    logs = pauta(home, "logs", run["id"])
    assert "connecting to postgresql://etl:***@db.example/wh" in logs.stdout
    assert "'token': '***'" in logs.stdout
    for done in (failed, logs):
        assert PASSWORD not in done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert_nowhere(home, PASSWORD, SECRET)

    done = pauta(home, "run", f"{flows}:returns_url")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    runs = json.loads(pauta(home, "runs", "list", "--json").stdout)
    latest = next(r for r in runs if r["flow"] == "returns_url")
    shown = json.loads(pauta(home, "runs", "show", latest["id"], "--json").stdout)
    # the flow's own result preview is made in the driving process, which was told
    assert shown["result_preview"] == "'postgresql://etl:***@db.example/wh'"
    assert shown["tasks"][0]["result"]["preview"] == "'postgresql://etl:***@db.example/wh'"
    # (the result itself is data, kept as the task returned it for the tasks that use it:
    # docs/connections.md says to pass connection names between tasks, not URLs)


def test_an_s3_bucket_on_moto_with_secret_extras(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    home = tmp_path / "home"
    added = pauta(
        home, "connections", "add", "lake", f"s3://{s3_bucket}/raw",
        "--extra", f"endpoint_url={s3_endpoint}",
        "--secret-extra", "key", "--secret-extra", "secret",
        stdin=f"{S3_KEY}\n{S3_SECRET}\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    tested = pauta(home, "connections", "test", "lake")
    assert tested.returncode == 0, tested.stderr
    assert f"listed {s3_bucket}/raw, 1 entry: day=1.csv" in tested.stdout
    view = json.loads(pauta(home, "connections", "show", "lake", "--json").stdout)
    assert view["extras"] == {"endpoint_url": s3_endpoint, "key": "***", "secret": "***"}
    for done in (added, tested):
        assert S3_SECRET not in done.stdout + done.stderr
    assert_nowhere(home, S3_KEY, S3_SECRET)
