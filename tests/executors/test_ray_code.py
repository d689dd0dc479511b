"""What of a flow's folder travels to a Ray cluster, and how task references are rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from pauta.core.errors import PautaError
from pauta.executors.base import TaskRef
from pauta.executors.ray_code import (
    WORKING_DIR,
    CodeTooLarge,
    check_size,
    code_folder,
    code_max,
    folder_size,
    relocate,
    runtime_paths,
)


def _tree(root: Path) -> None:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text("x = 1\n" * 100)  # 600 bytes
    for ignored in (".git", "__pycache__", ".pauta", ".venv", "node_modules"):
        (root / "flows" / ignored).mkdir()
        (root / "flows" / ignored / "big.bin").write_bytes(b"\0" * 10_000)
    (root / "flows" / "train.pyc").write_bytes(b"\0" * 10_000)


def test_ignored_folders_and_files_do_not_count(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert folder_size(str(tmp_path / "flows"), 10**9) == 600


def test_a_folder_over_the_cap_is_refused_with_what_to_do(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "flows" / "data.csv").write_bytes(b"1" * 5000)
    check_size(str(tmp_path / "flows"), 10_000)
    with pytest.raises(CodeTooLarge) as error:
        check_size(str(tmp_path / "flows"), 1_000)
    message = str(error.value)
    assert str(tmp_path / "flows") in message
    assert ".rayignore" in message
    assert "PAUTA_RAY_CODE_MAX" in message


def test_the_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAUTA_RAY_CODE_MAX", raising=False)
    assert code_max() == 100 * 1024 * 1024
    monkeypatch.setenv("PAUTA_RAY_CODE_MAX", "2048")
    assert code_max() == 2048
    monkeypatch.setenv("PAUTA_RAY_CODE_MAX", "lots")
    with pytest.raises(PautaError, match="PAUTA_RAY_CODE_MAX"):
        code_max()


def test_a_file_loaded_task_travels_with_its_folder_under_the_same_module(tmp_path: Path) -> None:
    _tree(tmp_path)
    path = tmp_path / "flows" / "train.py"
    ref = TaskRef("pauta_flows.train", "fit", str(path), token="ref:pauta_flows.train:fit")
    folder = code_folder(ref)
    assert folder == str((tmp_path / "flows").resolve())
    moved = relocate(ref, folder)
    assert moved.path == WORKING_DIR + "train.py"
    assert (moved.module, moved.qualname, moved.token) == (ref.module, ref.qualname, ref.token)
    assert code_folder(TaskRef("mypackage.tasks", "fit")) is None, "importable by name"


def test_pauta_runtime_travels_from_where_it_is_imported() -> None:
    paths = runtime_paths()
    assert any(Path(p).name == "pauta" and (Path(p) / "executors").is_dir() for p in paths)
    assert any("cloudpickle" in Path(p).name for p in paths)
