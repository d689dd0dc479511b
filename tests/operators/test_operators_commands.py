"""``shell``: lines stream into the task's log as they come, the command's whole process group
dies on its timeout, on the task's timeout and on a cancel, exit codes are checked against
``ok_codes``, and the result carries the code and the end of stdout."""

from __future__ import annotations

import io
import random
import sys
import threading
import time
from pathlib import Path

import pytest
import shell_flows as sf
from operator_support import sleeping

from pauta.core.clock import utcnow
from pauta.core.states import FlowRunState, State
from pauta.engine.runner import Runner
from pauta.operators import CommandFailed, CommandTimeout, OperatorError, ShellResult, shell
from pauta.store.repository import Store


def _marker() -> str:
    """A sleep length no other process on the machine has on its command line."""
    return f"{random.randint(5000, 9999)}.{random.randint(100000, 999999)}"


def _gone(marker: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while sleeping(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _log(store: Store, run_id: str) -> str:
    return "".join(Path(a.log_path).read_text() for a in store.list_attempts(run_id) if a.log_path)


# -- outside a flow: the plain function ---------------------------------------------------------


def test_a_string_runs_in_bash_and_returns_code_and_stdout_tail() -> None:
    result = shell("for i in $(seq 1 80); do echo line $i; done; echo to-stderr >&2")
    assert isinstance(result, ShellResult)
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == "line 80"
    assert len(lines) == 50  # the tail, not the whole output


def test_a_list_runs_as_it_is_without_a_shell() -> None:
    result = shell(["printf", "%s|", "$HOME", "a b", "; rm -rf /"])
    assert result.stdout == "$HOME|a b|; rm -rf /|"


def test_env_adds_variables_and_cwd_sets_the_folder(tmp_path: Path) -> None:
    result = shell('echo "$GREETING from $(pwd)"', env={"GREETING": "hola"}, cwd=tmp_path)
    assert result.stdout == f"hola from {tmp_path}\n"
    assert shell("echo $PATH").stdout.strip()  # the task's own environment is kept


def test_lines_are_written_to_the_task_streams_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    shell("echo one; echo two >&2; echo three; printf 'no newline'")
    assert out.getvalue() == "one\nthree\nno newline\n"
    assert err.getvalue() == "two\n"


def test_exit_codes_outside_ok_codes_fail_with_the_stderr_tail() -> None:
    with pytest.raises(CommandFailed) as raised:
        shell("echo fine; echo 'disk full' >&2; exit 3")
    assert raised.value.code == 3
    assert "exited with code 3" in str(raised.value)
    assert "disk full" in str(raised.value)
    assert shell("exit 3", ok_codes=(0, 3)).code == 3
    assert shell("exit 4", ok_codes=4).code == 4
    with pytest.raises(CommandFailed, match="exited with code 0"):
        shell("true", ok_codes=(1,))


def test_a_timeout_kills_the_whole_group_and_says_so() -> None:
    marker = _marker()
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match=r"timed out after 0\.5 s") as raised:
        shell(f"sleep {marker} & sleep {marker}", timeout=0.5)
    assert time.monotonic() - started < 5
    assert raised.value.code == -9
    assert _gone(marker), "a sleep survived the timeout"


def test_background_processes_end_when_the_command_exits() -> None:
    marker = _marker()
    started = time.monotonic()
    result = shell(f"sleep {marker} & echo left-behind")
    assert time.monotonic() - started < 5  # did not wait for the background sleep
    assert result.stdout == "left-behind\n"
    assert _gone(marker)


def test_a_command_killed_by_a_signal_names_it() -> None:
    with pytest.raises(CommandFailed, match=r"code -15 \(killed by SIGTERM\)"):
        shell("kill -TERM $$")


@pytest.mark.parametrize(
    ("command", "kwargs", "message"),
    [
        ("  ", {}, "the command is empty"),
        ([], {}, "a command list holds strings"),
        (["no-such-program-here"], {}, "no-such-program-here was not found"),
        ("true", {"timeout": 0}, "timeout must be a number of seconds > 0"),
        ("true", {"env": {"X": 1}}, "env names and values must be strings"),
        ("true", {"cwd": "/no/such/folder"}, "/no/such/folder was not found"),
    ],
)
def test_bad_calls_are_refused_clearly(command: object, kwargs: dict, message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        shell(command, **kwargs)


def test_shell_is_a_task_with_options() -> None:
    assert shell.name == "shell"
    copy = shell.with_options(retries=2, timeout=60)
    assert (copy.options.retries, copy.options.timeout) == (2, 60.0)
    assert shell.options.retries == 0


# -- in a flow: worker processes ----------------------------------------------------------------

slow = pytest.mark.slow


@slow
def test_lines_reach_the_task_log_before_the_command_ends(runner: Runner, store: Store) -> None:
    run = runner.run(sf.live_lines, {})
    assert run.state == FlowRunState.SUCCEEDED
    assert run.result() == "first-line\nseen-live\n"
    log = _log(store, run.id)
    assert "first-line\n" in log
    assert "seen-live" in log


@slow
def test_an_inline_shell_logs_to_its_attempt(runner: Runner, store: Store) -> None:
    run = runner.run(sf.inline_lines, {})
    assert run.result() == "from-inline\n"
    log = _log(store, run.id)
    assert "from-inline\n" in log
    assert "err-inline\n" in log


@slow
def test_the_command_timeout_kills_grandchildren(runner: Runner, store: Store) -> None:
    marker = _marker()
    run = runner.run(sf.sleeps, {"marker": marker, "timeout": 0.5})
    assert run.state == FlowRunState.FAILED
    [task] = run.tasks
    assert task.error["type"] == "pauta.operators.errors.CommandTimeout"
    assert "timed out after 0.5 s" in task.error["message"]
    assert _gone(marker)
    assert "started" in _log(store, run.id)


@slow
def test_the_task_timeout_kills_the_command_group_too(runner: Runner) -> None:
    # the executor kills the task's process: the guard of the command's group ends it
    marker = _marker()
    run = runner.run(sf.task_timeout, {"marker": marker})
    assert run.state == FlowRunState.FAILED
    [task] = run.tasks
    assert task.key == "short_shell-0"
    assert "timed out after 1 s" in task.error["message"]
    assert _gone(marker), "the command's sleeps outlived the task's process"


@slow
def test_a_cancel_kills_the_command_and_its_children(runner: Runner, store: Store) -> None:
    marker = _marker()
    finished: list = []
    thread = threading.Thread(
        target=lambda: finished.append(runner.run(sf.sleeps, {"marker": marker}))
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(sleeping(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sleeping(marker)) == 2, "the command's two sleeps never started"
    finally:
        # cancelled whatever happened above, so the run (and the test) ends
        for record in store.list_flow_runs(flow="sleeps", limit=5):
            if record.params["marker"] == marker:
                store.request_cancel(record.id, utcnow())
        thread.join(timeout=30)
    [run] = finished
    assert run.state == FlowRunState.CANCELLED
    assert [t.state for t in run.tasks] == [State.CANCELLED]
    assert _gone(marker), "a sleep survived the cancel"


@slow
def test_ok_codes_in_a_flow(runner: Runner) -> None:
    assert runner.run(sf.exits_with, {"code": 3, "ok_codes": [0, 3]}).result() == 3
    run = runner.run(sf.exits_with, {"code": 2, "ok_codes": [0]})
    assert run.state == FlowRunState.FAILED
    [task] = run.tasks
    assert "exited with code 2" in task.error["message"]
    assert "something broke" in task.error["message"]


@slow
def test_retries_given_with_options_apply(runner: Runner, tmp_path: Path) -> None:
    run = runner.run(sf.retried_command, {"path": str(tmp_path / "count")})
    assert run.state == FlowRunState.SUCCEEDED
    [task] = run.tasks
    assert (task.key, task.attempts) == ("retried_shell-0", 2)
