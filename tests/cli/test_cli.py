"""The `pauta` command as a user runs it: real subprocesses, real SQLite under PAUTA_HOME."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pauta.store.repository import Store
from pauta.store.results import ResultStore

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
FLOWS = HERE / "cli_flows.py"


def pauta(
    home: Path,
    *args: str,
    timeout: float = 90,
    database_url: str | None = None,
    columns: int | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    env.pop("COLUMNS", None)  # output goes to a pipe: rich lays tables out for 80 columns
    if columns is not None:
        env["COLUMNS"] = str(columns)
    if database_url:
        env["PAUTA_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=home.parent,
    )


def runs(home: Path, database_url: str | None = None) -> list[dict]:
    result = pauta(home, "runs", "list", "--json", "--limit", "0", database_url=database_url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_prints_a_summary_and_exits_zero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = pauta(home, "run", f"{FLOWS}:greet", "--param", "name=ana", "-p", "times=3")
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stderr
    [run] = runs(home)
    assert run["flow"] == "greet"
    assert run["state"] == "SUCCEEDED"
    assert run["params"] == {"name": "ana", "times": 3, "day": None}
    assert run["trigger"] == "manual"
    assert run["logical_date"].endswith("+00:00")


def test_a_failed_run_exits_one_and_shows_the_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = pauta(home, "run", f"{FLOWS}:broken", "-p", "message=disk full")
    assert result.returncode == 1
    assert "disk full" in result.stderr
    [run] = runs(home)
    shown = pauta(home, "runs", "show", run["id"], "--json")
    view = json.loads(shown.stdout)
    assert view["state"] == "FAILED"
    [task] = view["tasks"]
    assert task["key"] == "fail-0"
    assert task["state"] == "FAILED"
    assert task["attempts"] == 1
    assert task["error"]["message"] == "disk full"
    assert "Traceback" in task["error"]["traceback"]
    logs = pauta(home, "logs", run["id"], "fail")
    assert "RuntimeError: disk full" in logs.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-p", "name=ana", "-p", "times=many"], ["'times'", "int", "'many'"]),
        (["-p", "name=ana", "-p", "colour=red"], ["unknown parameter 'colour'", "times (int)"]),
        (["-p", "times=2"], ["'name'", "required"]),
        (["-p", "name=ana", "-p", "day=someday"], ["'day'", "date", "'someday'"]),
        (["-p", "oops"], ["name=value"]),
    ],
)
def test_bad_parameters_exit_two_before_any_run_is_created(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    home = tmp_path / "home"
    result = pauta(home, "run", f"{FLOWS}:greet", *args)
    assert result.returncode == 2, result.stderr
    for text in expected:
        assert text in result.stderr
    assert runs(home) == []


def test_params_file_values_are_typed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"name": "bo", "times": 2, "day": "2026-11-23"}))
    result = pauta(home, "run", f"{FLOWS}:greet", "--params-file", str(params), "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["params"] == {"name": "bo", "times": 2, "day": "2026-11-23"}
    assert view["result_preview"] == "'hello bo x2 on 2026-11-23'"


@pytest.mark.parametrize("command", ["run", "trigger"])
def test_parameters_over_the_limit_exit_two_and_say_how_to_pass_large_data(
    tmp_path: Path, command: str
) -> None:
    home = tmp_path / "home"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"name": "x" * 70_000}))
    result = pauta(home, command, f"{FLOWS}:greet", "--params-file", str(params))
    assert result.returncode == 2, result.stderr
    assert "over the limit of 64 KiB" in result.stderr
    assert "path or URI" in result.stderr
    assert runs(home) == []


def test_a_file_with_several_flows_lists_them(tmp_path: Path) -> None:
    result = pauta(tmp_path / "home", "run", str(FLOWS))
    assert result.returncode == 2
    for name in ("greet", "broken", "durable"):
        assert name in result.stderr


def test_a_broken_flow_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from pauta import flow\n\nx = 1 +\n")
    result = pauta(tmp_path / "home", "run", str(bad))
    assert result.returncode == 2
    assert "bad.py:3" in result.stderr
    assert "syntax" in result.stderr.lower()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_then_resume_runs_each_task_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """The driver dies mid-run; `runs resume` replays it without re-running finished steps."""
    home = tmp_path / "home"
    out = tmp_path / "steps.txt"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    if backend == "postgres":
        env["PAUTA_DATABASE_URL"] = request.getfixturevalue("pg_url")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:durable", "-p", f"path={out}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        finished = (
            [line for line in out.read_text().split() if ":" not in line] if out.exists() else []
        )
        if len(finished) >= 3:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the flow did not get going")
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, like a machine crash
    proc.wait()
    url = env.get("PAUTA_DATABASE_URL")
    [run] = runs(home, url)
    assert run["state"] == "RUNNING"

    resumed = pauta(home, "runs", "resume", run["id"], database_url=url)
    assert resumed.returncode == 0, resumed.stderr

    view = json.loads(pauta(home, "runs", "show", run["id"], "--json", database_url=url).stdout)
    assert view["state"] == "SUCCEEDED"
    assert len(view["tasks"]) == 6
    assert all(t["state"] == "SUCCEEDED" for t in view["tasks"])
    finished = [line for line in out.read_text().split() if ":" not in line]
    counts = {f"step{i}": finished.count(f"step{i}") for i in range(6)}
    # every step ran once; the one in flight at the kill may have run (started) twice
    assert all(1 <= n <= 2 for n in counts.values()), counts
    assert sum(n == 2 for n in counts.values()) <= 1, counts
    starts = [line for line in out.read_text().split() if line.endswith(":start")]
    assert len(starts) <= 7


def test_resume_refuses_a_run_whose_driver_is_alive(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "steps.txt"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pauta",
            "run",
            f"{FLOWS}:durable",
            "-p",
            f"path={out}",
            "-p",
            "pause=1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        [run] = runs(home)
        refused = pauta(home, "runs", "resume", run["id"])
        assert refused.returncode == 2
        assert "still alive" in refused.stderr
        assert "--force" in refused.stderr
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_unknown_run_id_is_a_clear_error(tmp_path: Path) -> None:
    result = pauta(tmp_path / "home", "runs", "show", "nosuchrun")
    assert result.returncode == 2
    assert "pauta runs list" in result.stderr


def test_pools_set_and_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert pauta(home, "pools", "set", "db", "4").returncode == 0
    assert pauta(home, "pools", "set", "db", "2").returncode == 0
    listed = pauta(home, "pools", "list", "--json")
    assert json.loads(listed.stdout) == [{"name": "db", "slots": 2}]
    bad = pauta(home, "pools", "set", "db", "-1")
    assert bad.returncode == 2
    assert "SLOTS" in bad.stderr


def test_ctrl_c_cancels_the_run_and_leaves_nothing_running(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "steps.txt"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:durable", "-p", f"path={out}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and "step1:start" in out.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "CANCELLED" in stderr
    assert "Traceback" not in stderr
    [run] = runs(home)
    assert run["state"] == "CANCELLED"
    view = json.loads(pauta(home, "runs", "show", run["id"], "--json").stdout)
    states = {t["state"] for t in view["tasks"]}
    assert states == {"SUCCEEDED", "CANCELLED"}, states


def test_runs_cancel_stops_a_run_driven_by_another_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "steps.txt"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    args = [f"{FLOWS}:durable", "-p", f"path={out}", "-p", "pause=5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and "step0:start" in out.read_text()):
        time.sleep(0.05)
    [run] = runs(home)
    cancelled = pauta(home, "runs", "cancel", run["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert "CANCELLED" in cancelled.stdout
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    view = json.loads(pauta(home, "runs", "show", run["id"], "--json").stdout)
    assert view["state"] == "CANCELLED"
    assert {t["state"] for t in view["tasks"]} == {"CANCELLED"}
    again = pauta(home, "runs", "cancel", run["id"])
    assert again.returncode == 2
    assert "already ended CANCELLED" in again.stderr


CACHED_FLOW = """
from pauta import flow, task

@task(cache=True)
def compute(x: int, path: str) -> int:
    with open(path, "a") as handle:
        handle.write("ran\\n")
    return x {op} 1

@flow
def cached(x: int, path: str) -> int:
    return compute(x, path).result()
"""


def test_changing_a_tasks_code_invalidates_its_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flows = tmp_path / "cached_flow.py"
    out = tmp_path / "ran.txt"
    args = ["-p", "x=2", "-p", f"path={out}", "--json"]
    flows.write_text(CACHED_FLOW.format(op="+"))
    first = json.loads(pauta(home, "run", str(flows), *args).stdout)
    again = json.loads(pauta(home, "run", str(flows), *args).stdout)
    assert [t["state"] for t in again["tasks"]] == ["CACHED"]
    assert again["tasks"][0]["cached_from"] == f"{first['id']}/compute-0"
    flows.write_text(CACHED_FLOW.format(op="*"))
    changed = json.loads(pauta(home, "run", str(flows), *args).stdout)
    assert [t["state"] for t in changed["tasks"]] == ["SUCCEEDED"]
    assert (first["result_preview"], changed["result_preview"]) == ("3", "2")
    no_cache = json.loads(pauta(home, "run", str(flows), *args, "--no-cache").stdout)
    assert [t["state"] for t in no_cache["tasks"]] == ["SUCCEEDED"]
    assert out.read_text().split() == ["ran", "ran", "ran"]


def test_the_driving_process_hands_the_gil_over_within_half_a_millisecond(tmp_path: Path) -> None:
    # A flow body or the progress display holding the GIL for Python's default 5 ms would hold
    # up every dispatch of the engine's thread for as long.
    result = pauta(tmp_path / "home", "run", f"{FLOWS}:switch_interval", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result_preview"] == "0.0005"


def test_the_summary_of_a_large_run_has_a_row_per_task(tmp_path: Path) -> None:
    result = pauta(tmp_path / "home", "run", f"{FLOWS}:many", "-p", "n=30")
    assert result.returncode == 1, result.stderr  # a task failed
    out = result.stdout + result.stderr
    rows = [line.split() for line in out.splitlines() if line.startswith("square ")]
    assert len(rows) == 1  # not one row per call
    assert rows[0][:2] == ["square", "30"]
    assert "1 FAILED, 29 SUCCEEDED" in out
    assert "30 tasks: 1 FAILED, 29 SUCCEEDED" in out
    assert "square-0[7] failed: ValueError: seven is not welcome" in out  # named below it


LIMITED_FLOW = '''
from pauta import flow


@flow(schedule="0 3 * * *", max_active_runs=1)
def limited() -> int:
    """At most one run at a time."""
    return 1
'''


def test_a_manual_run_keeps_the_flows_max_active_runs(tmp_path: Path) -> None:
    # Workers read the limit from the flow's row when they claim runs: a `pauta run` that
    # rewrote the row without it would lift the limit for every later run.
    home, folder = tmp_path / "home", tmp_path / "flows"
    folder.mkdir()
    (folder / "limited.py").write_text(LIMITED_FLOW)
    listed = pauta(home, "flows", "list", "--flows", str(folder), "--json")
    assert listed.returncode == 0, listed.stderr
    result = pauta(home, "run", f"{folder / 'limited.py'}:limited")
    assert result.returncode == 0, result.stderr
    store = Store(f"sqlite:///{home / 'pauta.db'}")
    try:
        row = store.get_flow("limited")
    finally:
        store.close()
    assert row is not None
    assert row["max_active_runs"] == 1
    assert row["schedule"] == "0 3 * * *"
    assert row["description"] == "At most one run at a time."


PRIVATE_FLOW = """
import os
import stat
import sys
from pathlib import Path

from pauta import context, flow, task


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@task
def modes_while_running() -> dict[str, int]:
    print("output that may hold a secret until the attempt ends")
    sys.stdout.flush()
    home = Path(os.environ["PAUTA_HOME"])
    [scratch] = (home / "logs" / context().run_id).glob(".worker-*.partial")
    found = {"partial": mode(scratch)}
    for name in ("pauta.db", "pauta.db-wal", "pauta.db-shm"):
        found[name] = mode(home / name)
    return found


@task
def big() -> str:
    return "x" * 200_000  # over the inline limit: a file under results/


@flow
def private() -> dict[str, int]:
    big().result()
    return modes_while_running().result()
"""


def test_the_home_and_its_files_are_private_under_umask_022(tmp_path: Path) -> None:
    # Logs (and the scratch log of a running attempt, not yet masked), results and the
    # database hold what tasks produce: never readable by other users of the machine.
    home = tmp_path / "home"
    flows = tmp_path / "private_flow.py"
    flows.write_text(PRIVATE_FLOW)
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pauta", "run", f"{flows}:private", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        cwd=tmp_path,
        umask=0o022,
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["state"] == "SUCCEEDED"
    store = Store(f"sqlite:///{home / 'pauta.db'}")
    try:
        stored = store.task_runs_by_key(run["id"])["modes_while_running-0"].result
    finally:
        store.close()
    assert stored is not None
    modes = ResultStore(str(home / "results")).get(stored)
    assert modes == {
        "partial": 0o600,
        "pauta.db": 0o600,
        "pauta.db-wal": 0o600,
        "pauta.db-shm": 0o600,
    }
    folders = [home, *(p for p in home.rglob("*") if p.is_dir())]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {p.relative_to(home).parts[0] for p in files} >= {"pauta.db", "logs", "results"}
    for path in folders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def run_states(home: Path) -> dict[str, list[dict]]:
    """Every run in the home's database, by state."""
    found: dict[str, list[dict]] = {}
    for run in runs(home):
        found.setdefault(run["state"], []).append(run)
    return found


def test_a_flow_that_calls_itself_fails_fast_at_the_child_depth_limit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    started = time.monotonic()
    result = pauta(home, "run", f"{FLOWS}:rec", timeout=120)
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stderr
    said = " ".join(result.stderr.split())  # as one line, however the terminal wrapped it
    assert "ChildFlowDepthError" in said
    assert "more than 32 deep (PAUTA_MAX_CHILD_FLOW_DEPTH)" in said
    assert "rec → rec → rec" in said
    assert "Traceback" not in said
    states = run_states(home)
    assert list(states) == ["FAILED"]  # every run it created ended
    assert len(states["FAILED"]) == 33  # the run and 32 levels of children
    [top] = [run for run in states["FAILED"] if run["parent_run_id"] is None]
    shown = json.loads(pauta(home, "runs", "show", top["id"], "--json").stdout)
    assert shown["error"]["type"] == "ChildFlowDepthError"
    assert "rec → rec" in shown["error"]["message"]


def test_the_child_depth_limit_is_a_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_MAX_CHILD_FLOW_DEPTH": "3"}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:rec"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert "more than 3 deep" in said
    assert "rec → rec → rec → rec → rec;" in said
    assert list(run_states(home)) == ["FAILED"]
    assert len(run_states(home)["FAILED"]) == 4


def test_a_limit_deeper_than_pythons_stack_still_fails_cleanly(tmp_path: Path) -> None:
    # child flows nest on the body's thread: a RecursionError must never strike first (it
    # could hit while a run is being recorded, and leave it RUNNING)
    home = tmp_path / "home"
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_MAX_CHILD_FLOW_DEPTH": "100000"}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:rec"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert "more than Python's stack holds" in said
    assert "RecursionError" not in said
    assert list(run_states(home)) == ["FAILED"]


def test_ctrl_c_stops_a_long_chain_of_child_flows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "levels.txt"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:chain", "-p", f"path={out}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and "level16:start" in out.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("pauta run ignored Ctrl-C in a chain of child flows")
    assert proc.returncode == 1, stderr
    assert "CANCELLED" in stderr
    assert "Traceback" not in stderr
    assert "level0" not in out.read_text()  # stopped before the end of the chain
    states = run_states(home)
    assert set(states) <= {"CANCELLED", "FAILED"}, states.keys()
    [top] = [run for runs in states.values() for run in runs if run["parent_run_id"] is None]
    assert top["state"] == "CANCELLED"
    assert len(states["CANCELLED"]) >= 5  # the run and the children it had started


WIDE_STATES = {
    "summarise_week-0": "SUCCEEDED",
    "validate_summary-0": "FAILED",
    "train_on_summary-0": "UPSTREAM_FAILED",
}


def _rows_of(output: str) -> dict[str, str]:
    """The table row of each task of the wide flow, by task key (the lines after the table
    that name a failed task are not rows)."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        for key in WIDE_STATES:
            if line.startswith(key + " "):
                found.setdefault(key, line)
    return found


@pytest.mark.parametrize("columns", [None, 80, 60])
def test_tables_show_states_whole_and_cut_the_detail(tmp_path: Path, columns: int | None) -> None:
    home = tmp_path / "home"
    ran = pauta(home, "run", f"{FLOWS}:wide", columns=columns)
    assert ran.returncode == 1, ran.stderr
    summary = _rows_of(ran.stderr)
    assert summary.keys() == WIDE_STATES.keys(), ran.stderr
    for key, state in WIDE_STATES.items():
        assert summary[key].split()[1] == state, ran.stderr
    # the long preview and error give way, cut on one line
    assert summary["validate_summary-0"].rstrip().endswith("…"), ran.stderr
    [run] = runs(home)
    listed = pauta(home, "runs", "list", columns=columns)
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(run["id"])]
    assert row.split()[:3] == [run["id"], "wide", "FAILED"], listed.stdout
    shown = pauta(home, "runs", "show", run["id"], columns=columns)
    rows = _rows_of(shown.stdout)
    assert {key: line.split()[1] for key, line in rows.items()} == WIDE_STATES, shown.stdout
    # `runs show` wraps the error instead: every word of it is there
    assert "customer-39" in shown.stdout


def _modules_loaded_by(home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `pauta ARGS` in a process that lists, as it exits, which heavy packages it loaded."""
    heavy = ("rich", "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "mlflow")
    report = home.parent / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"heavy, report = {heavy!r}, sys.argv[1]\n"
        "atexit.register(lambda: open(report, 'w').write(json.dumps(\n"
        "    sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))))\n"
        "sys.argv = ['pauta', *sys.argv[2:]]\n"
        "from pauta.cli import entry\n"
        "entry()\n"
    )
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code, str(report), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        cwd=home.parent,
    )
    return result, set(json.loads(report.read_text()))


@pytest.mark.parametrize("output", ["--quiet", "--json"])
def test_a_quiet_or_json_run_loads_no_display_or_server_packages(
    tmp_path: Path, output: str
) -> None:
    result, loaded = _modules_loaded_by(
        tmp_path / "home", "run", f"{FLOWS}:greet", "-p", "name=a", output
    )
    assert result.returncode == 0, result.stderr
    assert loaded == set()
    if output == "--json":
        assert json.loads(result.stdout)["state"] == "SUCCEEDED"


def test_a_summary_written_to_a_pipe_loads_no_display_package(tmp_path: Path) -> None:
    result, loaded = _modules_loaded_by(tmp_path / "home", "run", f"{FLOWS}:greet", "-p", "name=a")
    assert result.returncode == 0, result.stderr
    assert "greet SUCCEEDED in" in result.stderr
    assert loaded == set()


def test_a_summary_that_only_rich_lays_out_loads_it(tmp_path: Path) -> None:
    """The wide flow's long preview and error are cut with an ellipsis: rich's layout."""
    result, loaded = _modules_loaded_by(tmp_path / "home", "run", f"{FLOWS}:wide")
    assert result.returncode == 1, result.stderr
    assert "…" in result.stderr
    assert loaded == {"rich"}


@pytest.mark.parametrize(
    "args",
    [
        ("users", "create", "ada", "--role", "viewer", "--password", "correct horse battery"),
        ("users", "list"),
        ("tokens", "list"),
    ],
)
def test_managing_users_from_the_cli_loads_no_web_framework(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    home = tmp_path / "home"
    result, loaded = _modules_loaded_by(home, *args)
    assert result.returncode == 0, result.stderr
    assert loaded.isdisjoint({"fastapi", "starlette", "uvicorn", "jinja2"}), loaded
