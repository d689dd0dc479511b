"""Loading flow files by path: once per process, under a stable name, with errors that teach."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.errors import FlowLoadError
from pauta.core.loading import PACKAGE, load_file, module_name_for


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what loading does to the interpreter: folders added to sys.path, modules imported
    from tmp_path (flow files and their siblings)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(f"{PACKAGE}.") or name.startswith("sibling_"):
            del sys.modules[name]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_file_returns_the_module(tmp_path: Path) -> None:
    path = _write(tmp_path / "flows.py", "ANSWER = 42\n")
    module = load_file(path)
    assert module.ANSWER == 42
    assert module.__name__ == module_name_for(path)
    assert sys.modules[module.__name__] is module


def test_load_file_runs_the_file_once(tmp_path: Path) -> None:
    log = tmp_path / "imports.log"
    path = _write(
        tmp_path / "flows.py",
        f"with open({str(log)!r}, 'a') as fh:\n    fh.write('imported\\n')\n",
    )
    first = load_file(path)
    second = load_file(str(path))
    assert second is first
    assert log.read_text() == "imported\n"


def test_module_name_is_stable_for_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "flows.py", "")
    monkeypatch.chdir(tmp_path)
    assert module_name_for(path) == module_name_for("flows.py")
    assert module_name_for(path) == module_name_for(tmp_path / "sub" / ".." / "flows.py")


def test_module_names_differ_for_different_paths(tmp_path: Path) -> None:
    a = module_name_for(tmp_path / "a" / "flows.py")
    b = module_name_for(tmp_path / "b" / "flows.py")
    assert a != b
    assert a.startswith("pauta_flows.flows_")
    assert b.startswith("pauta_flows.flows_")


@pytest.mark.parametrize("filename", ["my-flows.py", "weekly training.py", "v1.2.py"])
def test_module_name_is_a_valid_dotted_name(tmp_path: Path, filename: str) -> None:
    name = module_name_for(tmp_path / filename)
    package, _, leaf = name.partition(".")
    assert package == "pauta_flows"
    assert leaf.isidentifier()


def test_the_files_folder_is_importable_for_siblings(tmp_path: Path) -> None:
    _write(tmp_path / "project" / "sibling_helpers.py", "def double(x):\n    return 2 * x\n")
    path = _write(
        tmp_path / "project" / "flows.py",
        "from sibling_helpers import double\nRESULT = double(21)\n",
    )
    assert load_file(path).RESULT == 42


def test_a_syntax_error_names_file_line_and_syntax(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.py", "x = 1\ndef f(:\n    pass\n")
    with pytest.raises(FlowLoadError) as caught:
        load_file(path)
    message = str(caught.value)
    assert f"{path}:2" in message
    assert "syntax" in message


def test_an_exception_at_import_names_file_line_and_type(tmp_path: Path) -> None:
    path = _write(tmp_path / "boom.py", "import os\n\nraise KeyError('no such table')\n")
    with pytest.raises(FlowLoadError) as caught:
        load_file(path)
    message = str(caught.value)
    assert f"{path}:3" in message
    assert "KeyError" in message
    assert "no such table" in message
    assert isinstance(caught.value.__cause__, KeyError)


def test_an_exception_in_a_function_called_at_import_names_the_line_in_the_file(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "nested.py", "def g():\n    return 1 / 0\n\nVALUE = g()\n")
    with pytest.raises(FlowLoadError, match=r"nested\.py:2: .*ZeroDivisionError"):
        load_file(path)


def test_a_failed_load_is_not_cached(tmp_path: Path) -> None:
    path = _write(tmp_path / "flows.py", "raise RuntimeError('not yet')\n")
    with pytest.raises(FlowLoadError):
        load_file(path)
    assert module_name_for(path) not in sys.modules
    path.write_text("FIXED = True\n")
    assert load_file(path).FIXED is True


@pytest.mark.parametrize("name", ["missing.py", "folder"])
def test_a_missing_file_is_a_flow_load_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(FlowLoadError, match="flow file not found"):
        load_file(tmp_path / name)


def test_a_file_rewritten_within_the_second_at_the_same_size_runs_its_new_code(
    tmp_path: Path,
) -> None:
    """Each load is a fresh process (as each `pauta run` is), writing the bytecode cache."""
    path = tmp_path / "same_size.py"
    code = (
        "import sys\n"
        "from pauta.core.loading import load_file\n"
        f"print(load_file({str(path)!r}).VALUE)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def load() -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    path.write_text("VALUE = 1 + 1\n")
    stamp = path.stat().st_mtime_ns
    assert load() == "2"
    assert list((tmp_path / "__pycache__").glob("same_size.*.pyc"))
    path.write_text("VALUE = 1 * 1\n")  # the same size, and below the same time stamp
    os.utime(path, ns=(stamp, stamp))
    assert load() == "1"
    assert load() == "1"  # from the rewritten cache
