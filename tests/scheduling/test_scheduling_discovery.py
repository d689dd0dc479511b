"""Flow discovery: each file imported in its own process, broken files reported as data, results
cached by file stamp; and the `pauta flows` commands on top of it, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.errors import FlowLoadError
from pauta.definitions.triggers import schedule_text
from pauta.scheduling.discovery import (
    Discovery,
    discover,
    flow_files,
    flows_folder,
    sync_to_store,
)
from pauta.store.repository import Store

NIGHTLY = '''
from datetime import date
from pauta import flow

@flow(schedule="0 3 * * *", timezone="Europe/Madrid", tags=["ml", "nightly"])
def nightly(day: date | None = None, rounds: int = 3) -> None:
    """Train every night."""

@flow(name="weekly-report")
def report(recipient: str) -> None:
    pass
'''

HOURLY = """
from pauta import Every, flow

@flow(schedule=Every(hours=1))
def hourly() -> None:
    pass
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def touch(path: Path) -> None:
    """Move the file's mtime a second on: a change whatever the filesystem's resolution."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def counting(counter: Path, body: str = "") -> str:
    """A flow file that appends a line to ``counter`` each time it is imported."""
    return (
        f"with open({str(counter)!r}, 'a') as fh:\n    fh.write('imported\\n')\n"
        "from pauta import flow\n\n@flow\ndef counted() -> None:\n    pass\n" + body
    )


def imports(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "flows"
    path.mkdir()
    return path


def only_error(found: Discovery) -> tuple[Path, int | None, str, str]:
    [error] = found.errors
    return error.file, error.line, error.message, error.kind


# discovery --------------------------------------------------------------------------------------


def test_good_files_list_their_flows_with_schedule_and_parameters(folder: Path) -> None:
    nightly = write(folder, "nightly.py", NIGHTLY)
    write(folder, "nested/hourly.py", HOURLY)
    found = discover(folder)
    assert found.errors == []
    assert list(found.flows) == ["hourly", "nightly", "weekly-report"]
    info = found.flows["nightly"]
    assert info.file == nightly.resolve()
    assert info.line == 4
    assert info.qualname == "nightly"
    assert info.description == "Train every night."
    assert info.schedule == "0 3 * * *"
    assert info.timezone == "Europe/Madrid"
    assert info.tags == ("ml", "nightly")
    assert [(p.name, p.type, p.default, p.required) for p in info.parameters] == [
        ("day", "date | None", None, False),
        ("rounds", "int", 3, False),
    ]
    assert info.parameters_schema["properties"]["rounds"]["type"] == "integer"
    assert found.flows["weekly-report"].qualname == "report"
    assert found.flows["weekly-report"].parameters_schema["required"] == ["recipient"]
    assert found.flows["hourly"].schedule == "every hour"
    assert found.flows["hourly"].timezone == "UTC"
    assert found.scanned_at.tzinfo is not None


def test_private_hidden_and_cache_files_are_not_imported(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    for name in ("_helpers.py", ".hidden.py", "__pycache__/x.py", ".git/y.py", "_old/z.py"):
        write(folder, name, "raise RuntimeError('must not be imported')\n")
    write(folder, "venv/pyvenv.cfg", "")
    write(folder, "venv/lib/site.py", "raise RuntimeError('must not be imported')\n")
    # a package of its own (a plugin kept beside the flows): imported by its name, not scanned
    write(folder, "plugin/pyproject.toml", "[project]\nname = 'p'\n")
    write(folder, "plugin/src/p/mod.py", "raise RuntimeError('must not be imported')\n")
    write(folder, "legacy/setup.py", "raise RuntimeError('must not be imported')\n")
    write(folder, "notes.txt", "not python")
    assert flow_files(folder) == [folder / "good.py"]
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    assert found.errors == []


def test_a_syntax_error_names_file_and_line_and_the_other_files_still_load(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    bad = write(folder, "bad.py", "from pauta import flow\n\nx = 1\ndef broken(:\n    pass\n")
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    file, line, message, kind = only_error(found)
    assert (file, line, kind) == (bad, 4, "SyntaxError")
    assert "syntax error" in message
    assert str(found.errors[0]).startswith(f"{bad}:4: syntax error")


def test_an_import_error_names_the_line_of_the_import(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    bad = write(folder, "needs.py", "import os\nimport pauta_no_such_module_xyz\n")
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    file, line, message, kind = only_error(found)
    assert (file, line, kind) == (bad, 2, "ModuleNotFoundError")
    assert "pauta_no_such_module_xyz" in message


def test_sys_exit_at_import_is_an_error_not_the_end_of_discovery(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    bad = write(folder, "script.py", "import sys\nprint('running as a script')\nsys.exit(3)\n")
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    file, line, message, kind = only_error(found)
    assert (file, line, kind) == (bad, 3, "SystemExit")
    assert "sys.exit(3)" in message
    assert '__name__ == "__main__"' in message


def test_a_process_that_dies_without_reporting_is_an_error(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    bad = write(folder, "dies.py", "import os\nos._exit(7)\n")
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    file, _, message, kind = only_error(found)
    assert (file, kind) == (bad, "ImportCrashed")
    assert "exited with code 7" in message


def test_an_endless_import_is_stopped_at_the_timeout_and_not_retried(folder: Path) -> None:
    write(folder, "good.py", HOURLY)
    write(folder, "more.py", NIGHTLY)
    loop = write(folder, "loop.py", "import time\n\nwhile True:\n    time.sleep(0.01)\n")
    started = time.monotonic()
    found = discover(folder, timeout=2)
    assert time.monotonic() - started < 15
    assert list(found.flows) == ["hourly", "nightly", "weekly-report"]
    file, line, message, kind = only_error(found)
    assert (file, kind) == (loop, "ImportTimeout")
    assert line in (3, 4)  # where it was stuck, from the stack the process printed when stopped
    assert "longer than 2 s" in message

    # unchanged, it is not imported again: a stuck file costs its timeout once per change
    again = discover(folder, timeout=2, previous=found)
    assert again.imported == ()
    assert [str(e) for e in again.errors] == [str(e) for e in found.errors]


def test_printing_at_import_does_not_disturb_the_report(folder: Path) -> None:
    write(folder, "chatty.py", 'print("{not json")\n' + HOURLY + "print('done')\n")
    found = discover(folder)
    assert list(found.flows) == ["hourly"]
    assert found.errors == []


def test_the_same_flow_name_in_two_files_is_an_error_on_the_second(folder: Path) -> None:
    first = write(folder, "a_first.py", HOURLY)
    second = write(
        folder,
        "b_second.py",
        "from pauta import flow\n\n@flow(name='hourly')\ndef x():\n    pass\n",
    )
    found = discover(folder)
    assert found.flows["hourly"].file == first
    file, line, message, kind = only_error(found)
    assert (file, line, kind) == (second, 3, "DuplicateFlowName")
    assert str(first) in message
    assert "@flow(name=...)" in message


def test_a_file_imports_a_sibling_module_and_its_flows_are_not_counted_twice(
    folder: Path,
) -> None:
    write(folder, "helpers.py", "ROUNDS = 5\n")
    write(folder, "base.py", "from pauta import flow\n\n@flow\ndef shared() -> None:\n    pass\n")
    user = write(
        folder,
        "user.py",
        """
        import helpers
        from base import shared
        from pauta import flow

        @flow
        def uses(rounds: int = helpers.ROUNDS) -> None:
            shared()
        """,
    )
    found = discover(folder)
    assert found.errors == []
    assert list(found.flows) == ["shared", "uses"]
    assert found.flows["shared"].file == folder / "base.py"
    assert found.flows["uses"].parameters[0].default == 5

    # the importer depends on its sibling: changing the sibling imports it again
    write(folder, "helpers.py", "ROUNDS = 8\n")
    touch(folder / "helpers.py")
    again = discover(folder, previous=found)
    assert user in again.imported
    assert again.flows["uses"].parameters[0].default == 8


def test_unchanged_files_are_not_imported_again_and_changed_ones_are(
    folder: Path, tmp_path: Path
) -> None:
    counter = tmp_path / "counter.txt"
    counted = write(folder, "counted.py", counting(counter))
    write(folder, "other.py", HOURLY)
    first = discover(folder)
    assert imports(counter) == 1
    assert list(first.flows) == ["counted", "hourly"]

    second = discover(folder, previous=first)
    assert imports(counter) == 1
    assert second.imported == ()
    assert list(second.flows) == ["counted", "hourly"]

    touch(counted)
    third = discover(folder, previous=second)
    assert imports(counter) == 2
    assert third.imported == (counted,)

    write(folder, "counted.py", counting(counter, "\n@flow\ndef added() -> None:\n    pass\n"))
    (folder / "other.py").unlink()
    write(folder, "new.py", "from pauta import flow\n\n@flow\ndef fresh() -> None:\n    pass\n")
    fourth = discover(folder, previous=third)
    assert imports(counter) == 3
    assert list(fourth.flows) == ["added", "counted", "fresh"]
    assert set(fourth.files) == {counted, folder / "new.py"}

    # without `previous` everything is imported
    discover(folder)
    assert imports(counter) == 4


def test_a_file_that_failed_is_imported_again_on_the_next_scan(
    folder: Path, tmp_path: Path
) -> None:
    counter = tmp_path / "counter.txt"
    write(folder, "flaky.py", counting(counter, "raise RuntimeError('database not up yet')\n"))
    first = discover(folder)
    assert first.errors[0].kind == "RuntimeError"
    second = discover(folder, previous=first)
    assert imports(counter) == 2
    assert second.errors[0].message == first.errors[0].message


def test_a_missing_folder_is_an_error_that_says_where_flows_go(tmp_path: Path) -> None:
    with pytest.raises(FlowLoadError, match="PAUTA_FLOWS"):
        discover(tmp_path / "nowhere")


def test_the_flows_folder_is_pauta_flows_or_dot_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAUTA_FLOWS", raising=False)
    assert flows_folder() == tmp_path / "flows"
    monkeypatch.setenv("PAUTA_FLOWS", str(tmp_path / "elsewhere"))
    assert flows_folder() == tmp_path / "elsewhere"


def test_schedule_text() -> None:
    class Described:
        def describe(self) -> str:
            return "every 5 minutes"

    class Plain:
        def __str__(self) -> str:
            return "plain"

    assert schedule_text(None) is None
    assert schedule_text("*/5 * * * *") == "*/5 * * * *"
    assert schedule_text(Described()) == "every 5 minutes"
    assert schedule_text(Plain()) == "plain"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


def test_sync_records_flows_and_keeps_paused(folder: Path, sqlite_store: Store) -> None:
    path = write(folder, "nightly.py", NIGHTLY)
    found = discover(folder)
    assert sync_to_store(found, sqlite_store) == 2
    row = sqlite_store.get_flow("nightly")
    assert row is not None
    assert row["schedule"] == "0 3 * * *"
    assert row["timezone"] == "Europe/Madrid"
    assert row["description"] == "Train every night."
    assert row["source"] == str(path)
    assert row["parameters_schema"] == found.flows["nightly"].parameters_schema
    assert row["paused"] is False

    sqlite_store.set_paused("nightly", True)
    assert sync_to_store(found, sqlite_store) == 0  # nothing changed: nothing written
    write(folder, "nightly.py", NIGHTLY.replace("Train every night.", "Train nightly."))
    touch(path)
    assert sync_to_store(discover(folder, previous=found), sqlite_store) == 1
    row = sqlite_store.get_flow("nightly")
    assert row is not None
    assert row["description"] == "Train nightly."
    assert row["paused"] is True


# the `pauta flows` commands ---------------------------------------------------------------------


def pauta(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PAUTA_HOME": str(tmp_path / "home"),
        "PAUTA_FLOWS": str(tmp_path / "flows"),
    }
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", "flows", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_flows_list_reports_load_errors_as_data(folder: Path, tmp_path: Path) -> None:
    write(folder, "nightly.py", NIGHTLY)
    bad = write(folder, "bad.py", "def broken(:\n")

    listed = pauta(tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert [item["name"] for item in items] == ["nightly", "weekly-report", None]
    nightly = items[0]
    assert nightly["schedule"] == "0 3 * * *"
    assert nightly["timezone"] == "Europe/Madrid"
    assert nightly["paused"] is False
    # 03:00 in Madrid, as an ISO instant in UTC (01:00 or 02:00 UTC depending on DST)
    assert nightly["next_run"].endswith(("T02:00:00+00:00", "T01:00:00+00:00"))
    assert nightly["error"] is None
    assert nightly["file"] == str(folder / "nightly.py")
    assert nightly["description"] == "Train every night."
    assert nightly["parameters"][1] == {
        "name": "rounds",
        "type": "int",
        "default": 3,
        "required": False,
    }
    error = items[2]
    assert set(error) == set(nightly)
    assert error["file"] == str(bad)
    assert error["error"]["type"] == "SyntaxError"
    assert error["error"]["line"] == error["line"] == 1
    assert error["paused"] is None

    assert pauta(tmp_path, "list", "--json", "--strict").returncode == 1
    table = pauta(tmp_path, "list")
    assert table.returncode == 0
    assert "nightly" in table.stdout
    assert "0 3 * * *" in table.stdout
    assert "flows/bad.py:1: syntax error" in table.stdout
    assert pauta(tmp_path, "list", "--strict").returncode == 1

    bad.unlink()
    assert pauta(tmp_path, "list", "--strict").returncode == 0


@pytest.mark.slow
def test_pause_and_unpause_round_trip(folder: Path, tmp_path: Path) -> None:
    write(folder, "nightly.py", NIGHTLY)

    def paused() -> dict[str, bool]:
        result = pauta(tmp_path, "list", "--json")
        return {item["name"]: item["paused"] for item in json.loads(result.stdout)}

    # pausing works on a flow that was never listed nor run
    result = pauta(tmp_path, "pause", "nightly")
    assert result.returncode == 0, result.stderr
    assert paused() == {"nightly": True, "weekly-report": False}

    shown = pauta(tmp_path, "show", "nightly", "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["paused"] is True
    assert [p["name"] for p in view["parameters"]] == ["day", "rounds"]

    assert pauta(tmp_path, "unpause", "nightly").returncode == 0
    assert paused() == {"nightly": False, "weekly-report": False}


@pytest.mark.slow
def test_unknown_flows_and_folders_exit_two(folder: Path, tmp_path: Path) -> None:
    write(folder, "nightly.py", NIGHTLY)
    for args in (["pause", "nightlyy"], ["unpause", "nope"], ["show", "nope"]):
        result = pauta(tmp_path, *args)
        assert result.returncode == 2, args
        assert "pauta flows list" in result.stderr
    assert "did you mean 'nightly'" in pauta(tmp_path, "pause", "nightlyy").stderr
    missing = pauta(tmp_path, "list", "--flows", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


@pytest.mark.slow
def test_flows_show_prints_the_parameters(folder: Path, tmp_path: Path) -> None:
    write(folder, "nightly.py", NIGHTLY)
    result = pauta(tmp_path, "show", "weekly-report")
    assert result.returncode == 0, result.stderr
    assert "flow weekly-report" in result.stdout
    assert "recipient" in result.stdout
    assert "str" in result.stdout
