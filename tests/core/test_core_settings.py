"""Where pauta keeps its state: the home folder and the settings read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from pauta.core.settings import DEFAULT_INLINE_RESULT_MAX, Settings, find_home

ENV = (
    "PAUTA_HOME",
    "PAUTA_DATABASE_URL",
    "PAUTA_RESULTS_URL",
    "PAUTA_INLINE_RESULT_MAX",
    "PAUTA_SQLITE_SYNCHRONOUS",
    "PAUTA_MAX_CHILD_FLOW_DEPTH",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_pauta_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".pauta").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUTA_HOME", str(tmp_path / "elsewhere"))
    assert find_home() == tmp_path / "elsewhere"
    assert find_home(tmp_path) == tmp_path / "elsewhere"


def test_a_relative_pauta_home_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUTA_HOME", "state")
    assert find_home() == tmp_path / "state"


def test_an_empty_pauta_home_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAUTA_HOME", "")
    assert find_home() == tmp_path / ".pauta"


def test_the_nearest_pauta_folder_in_a_parent_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".pauta").mkdir()
    (tmp_path / "project" / ".pauta").mkdir(parents=True)
    deep = tmp_path / "project" / "src" / "pipelines"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_home() == tmp_path / "project" / ".pauta"


def test_a_pauta_folder_in_the_current_folder_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".pauta").mkdir()
    monkeypatch.chdir(tmp_path)
    assert find_home() == tmp_path / ".pauta"


def test_a_pauta_file_is_not_a_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".pauta").write_text("not a folder")
    monkeypatch.chdir(tmp_path / "project")
    assert find_home() == tmp_path / "project" / ".pauta"
    (tmp_path / ".pauta").mkdir()
    assert find_home() == tmp_path / ".pauta"


def test_without_a_pauta_folder_home_is_under_cwd_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_home() == tmp_path / ".pauta"
    assert not (tmp_path / ".pauta").exists()


def test_find_home_searches_from_the_given_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / ".pauta").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    assert find_home(tmp_path / "a") == tmp_path / "a" / ".pauta"


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PAUTA_HOME", str(home))
    settings = Settings.from_env()
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'pauta.db'}"
    assert settings.results_url == str(home / "results")
    assert settings.logs_dir == home / "logs"
    assert settings.inline_result_max == DEFAULT_INLINE_RESULT_MAX
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.max_child_flow_depth == 32
    assert not home.exists()


def test_an_explicit_home_is_used(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path / "given")
    assert settings.home == tmp_path / "given"
    assert settings.logs_dir == tmp_path / "given" / "logs"


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAUTA_DATABASE_URL", "postgresql+psycopg://db.internal/pauta")
    monkeypatch.setenv("PAUTA_RESULTS_URL", "s3://bucket/results")
    monkeypatch.setenv("PAUTA_INLINE_RESULT_MAX", "1024")
    monkeypatch.setenv("PAUTA_SQLITE_SYNCHRONOUS", "full")
    monkeypatch.setenv("PAUTA_MAX_CHILD_FLOW_DEPTH", "5")
    settings = Settings.from_env(tmp_path)
    assert settings.max_child_flow_depth == 5
    assert settings.database_url == "postgresql+psycopg://db.internal/pauta"
    assert settings.results_url == "s3://bucket/results"
    assert settings.inline_result_max == 1024
    assert settings.sqlite_synchronous == "FULL"
    assert settings.logs_dir == tmp_path / "logs"


def test_a_bad_sqlite_synchronous_names_the_allowed_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(ValueError, match="PAUTA_SQLITE_SYNCHRONOUS") as caught:
        Settings.from_env(tmp_path)
    for allowed in ("OFF", "NORMAL", "FULL", "EXTRA"):
        assert allowed in str(caught.value)


@pytest.mark.parametrize("depth", ["0", "-1", "deep"])
def test_a_bad_child_flow_depth_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: str
) -> None:
    monkeypatch.setenv("PAUTA_MAX_CHILD_FLOW_DEPTH", depth)
    with pytest.raises(ValueError, match=r"PAUTA_MAX_CHILD_FLOW_DEPTH.*whole number >= 1"):
        Settings.from_env(tmp_path)


def test_ensure_home_creates_home_and_logs(tmp_path: Path) -> None:
    settings = Settings.from_env(tmp_path / "new" / "home")
    settings.ensure_home()
    settings.ensure_home()
    assert settings.home.is_dir()
    assert settings.logs_dir.is_dir()
