"""Secrets read inside tasks never leave them: logs, previews and errors show ``***``.

Real worker processes (the local executor) and the inline executor run tasks that read a
secret with ``pauta.secret`` and then print it, log it, pass it to a child process, return it
inside a string and raise an exception that holds it.
"""

from __future__ import annotations

import secrets as tokens
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pauta.core.loading import load_file
from pauta.core.secrets import clear_registry, registered_values
from pauta.core.states import State
from pauta.executors.inline import InlineExecutor
from pauta.executors.local import LocalExecutor
from pauta.store.results import ResultStore

kit = load_file(Path(__file__).parent / "flowmods" / "kit.py")

ENV_NAME = "PAUTA_TEST_MASKED_TOKEN"
FILE_NAME = "PAUTA_TEST_FILE_TOKEN"
ENV_VALUE = "sk-env-" + tokens.token_hex(12)
FILE_VALUE = "sk-file-" + tokens.token_hex(12)

TASKS = """
import subprocess
import sys

import pauta
from pauta import context


def leak_everything(name):
    value = pauta.secret(name)
    print(f"print: {value}")
    context().logger.info("logger: %s", value)
    sys.stderr.write(f"stderr: {value}\\n")
    code = "import sys; print('child:', sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, value], check=True)
    return f"the token is {value}"


def fail_with_it(name):
    value = pauta.secret(name)
    print(f"about to fail with {value}")
    try:
        {}[value]
    except KeyError as exc:
        raise RuntimeError(f"login refused for token {value!r}") from exc


def long_result(name):
    # reprlib cuts strings over 160 characters around position 78: across the secret
    return "x" * 70 + pauta.secret(name) + "y" * 200


def echo(text):
    print(text)
    return text
"""


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    path = tmp_path_factory.mktemp("secret-tasks") / "secret_tasks.py"
    path.write_text(textwrap.dedent(TASKS))
    return load_file(path)


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    # Set before the workers start: spawned processes copy the environment then.
    home = tmp_path / "home"
    home.mkdir()
    secrets_file = home / "secrets.env"
    secrets_file.write_text(f"# for the tests\n{FILE_NAME}={FILE_VALUE}\n")
    secrets_file.chmod(0o600)
    monkeypatch.setenv("PAUTA_HOME", str(home))
    monkeypatch.setenv(ENV_NAME, ENV_VALUE)
    monkeypatch.delenv(FILE_NAME, raising=False)
    return {"results": tmp_path / "results", "logs": tmp_path / "logs"}


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    clear_registry()
    yield
    clear_registry()


@pytest.fixture(params=["local", "inline"])
def executor(request: pytest.FixtureRequest, paths: dict[str, Path]) -> Iterator[object]:
    if request.param == "local":
        request.applymarker(pytest.mark.slow)
        ex: object = LocalExecutor(workers=1, results_url=str(paths["results"]))
    else:
        ex = InlineExecutor(threads=1, results_url=str(paths["results"]))
    ex.start(kit.Wakeup())  # type: ignore[attr-defined]
    yield ex
    ex.shutdown(kill=True)  # type: ignore[attr-defined]


def run(executor, fn, *args, paths):
    work = kit.item(fn, *args, log_dir=paths["logs"])
    return work, kit.run_one(executor, work)


def assert_hidden(text: str, *values: str) -> None:
    for value in values:
        pieces = {value[i : i + 6] for i in range(len(value) - 5)}
        assert not [piece for piece in pieces if piece in text]  # not even a piece of it


def test_log_and_preview_of_a_succeeding_task(executor, tasks, paths):
    work, outcome = run(executor, tasks.leak_everything, ENV_NAME, paths=paths)
    assert outcome.state == State.SUCCEEDED, outcome.error
    log = Path(work.log_path).read_text()
    for line in ("print: ***", "logger: ***", "stderr: ***"):
        assert line in log
    if isinstance(executor, LocalExecutor):
        # inline tasks' child processes write to the driver's streams, not the log
        assert "child: ***" in log
    assert_hidden(log, ENV_VALUE)
    assert outcome.result.preview == "'the token is ***'"
    # the result itself is the task's data, kept as returned
    assert ResultStore(str(paths["results"])).get(outcome.result) == f"the token is {ENV_VALUE}"


def test_error_message_traceback_and_log_of_a_failing_task(executor, tasks, paths):
    work, outcome = run(executor, tasks.fail_with_it, ENV_NAME, paths=paths)
    assert outcome.state == State.FAILED
    error = outcome.error
    assert error.type == "RuntimeError"
    assert error.message == "login refused for token '***'"
    assert "RuntimeError: login refused for token '***'" in error.traceback
    assert "KeyError: '***'" in error.traceback  # the chained exception too
    log = Path(work.log_path).read_text()
    assert "about to fail with ***" in log
    assert "RuntimeError: login refused for token '***'" in log
    for text in (error.message, error.traceback, log):
        assert_hidden(text, ENV_VALUE)


def test_a_secret_from_the_secrets_file(executor, tasks, paths):
    work, outcome = run(executor, tasks.leak_everything, FILE_NAME, paths=paths)
    assert outcome.state == State.SUCCEEDED, outcome.error
    log = Path(work.log_path).read_text()
    assert "print: ***" in log
    assert_hidden(log, FILE_VALUE)
    assert outcome.result.preview == "'the token is ***'"


def test_a_preview_cut_across_the_secret_shows_no_piece_of_it(executor, tasks, paths):
    _, outcome = run(executor, tasks.long_result, ENV_NAME, paths=paths)
    assert outcome.state == State.SUCCEEDED, outcome.error
    assert "***" in outcome.result.preview
    assert_hidden(outcome.result.preview, ENV_VALUE)


def test_the_registry_is_per_process(executor, tasks, paths):
    # Before any task read it, the value is not known anywhere: nothing is masked.
    work, outcome = run(executor, tasks.echo, f"early {ENV_VALUE}", paths=paths)
    assert ENV_VALUE in Path(work.log_path).read_text()
    assert ENV_VALUE in outcome.result.preview
    # Once a task in that process read it, later tasks there have it masked too.
    run(executor, tasks.leak_everything, ENV_NAME, paths=paths)
    work, outcome = run(executor, tasks.echo, f"late {ENV_VALUE}", paths=paths)
    assert Path(work.log_path).read_text() == "late ***\n"
    assert outcome.result.preview == "'late ***'"
    inline = isinstance(executor, InlineExecutor)
    # the inline executor's tasks run in this process; worker processes keep their own
    assert (ENV_VALUE in registered_values()) is inline
