"""Secrets: lookup order, the secrets file, the missing-secret message, and masking."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pauta
from pauta.core import secrets
from pauta.core.errors import PautaError
from pauta.core.secrets import (
    SecretNotFound,
    SecretsFileError,
    clear_registry,
    mask,
    mask_file,
    mask_json,
    register,
    registered_values,
    secret,
)

NAME = "PAUTA_TEST_API_TOKEN"


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(NAME, raising=False)
    clear_registry()
    yield
    clear_registry()


def write_secrets(home: Path, text: str, mode: int = 0o600) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "secrets.env"
    path.write_text(text)
    path.chmod(mode)
    return path


# -- lookup ----------------------------------------------------------------------------------


def test_pauta_exports_secret() -> None:
    assert pauta.secret is secret
    assert "secret" in pauta.__all__


def test_the_environment_comes_first_then_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_secrets(tmp_path, f"{NAME}=from-the-file\n")
    assert secret(NAME, home=tmp_path) == "from-the-file"
    monkeypatch.setenv(NAME, "from-the-environment")
    assert secret(NAME, home=tmp_path) == "from-the-environment"
    # an empty variable counts as unset, so a blank export does not hide the file
    monkeypatch.setenv(NAME, "")
    assert secret(NAME, home=tmp_path) == "from-the-file"


def test_the_default_home_is_the_pauta_home(home: Path) -> None:
    write_secrets(home, f"{NAME}=in-the-home\n")
    assert secret(NAME) == "in-the-home"


def test_returned_values_are_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert registered_values() == ()
    monkeypatch.setenv(NAME, "hunter22")
    secret(NAME, home=tmp_path)
    assert registered_values() == ("hunter22",)


def test_a_bad_name_is_refused(tmp_path: Path) -> None:
    for bad in ("", "1ABC", "MY-TOKEN", "a b", "ÑAME"):
        with pytest.raises(ValueError, match="environment variable name"):
            secret(bad, home=tmp_path)


# -- the secrets file ------------------------------------------------------------------------


def test_file_format(tmp_path: Path) -> None:
    path = write_secrets(
        tmp_path,
        "\n".join(
            [
                "# database",
                "",
                "  DB_PASSWORD = pa ss=word  ",
                "export API_KEY=abc#def",
                'QUOTED="two words"',
                "SINGLE='x'",
                'HALF="open',
                "EMPTY=",
                "DUP=first",
                "DUP=second",
            ]
        ),
    )
    assert secrets.read_secrets_file(path) == {
        "DB_PASSWORD": "pa ss=word",
        "API_KEY": "abc#def",
        "QUOTED": "two words",
        "SINGLE": "x",
        "HALF": '"open',
        "EMPTY": "",
        "DUP": "second",
    }


def test_a_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert secrets.read_secrets_file(tmp_path / "secrets.env") is None


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_file_others_may_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_secrets(tmp_path, f"{NAME}=s3cr3t-value\n", mode)
    with pytest.raises(SecretsFileError) as caught:
        secret(NAME, home=tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert f"mode {mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert "s3cr3t-value" not in message
    assert isinstance(caught.value, PautaError)
    path.chmod(0o400)
    assert secret(NAME, home=tmp_path) == "s3cr3t-value"


def test_a_malformed_line_is_named_by_number_never_shown(tmp_path: Path) -> None:
    path = write_secrets(tmp_path, "# ok\nGOOD=1\nmy token is s3cr3t-value\n")
    with pytest.raises(SecretsFileError, match=r"line 3: expected KEY=VALUE") as caught:
        secret("GOOD", home=tmp_path)
    assert str(path) in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)
    write_secrets(tmp_path, "BAD KEY=s3cr3t-value\n")
    with pytest.raises(SecretsFileError, match="line 1") as caught:
        secret("GOOD", home=tmp_path)
    assert "s3cr3t-value" not in str(caught.value)


# -- a missing secret ------------------------------------------------------------------------


def test_a_missing_secret_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound) as caught:
        secret(NAME, home=tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, PautaError)
    assert repr(NAME) in message
    assert f"environment variable {NAME} is not set" in message
    assert f"{tmp_path / 'secrets.env'} does not exist" in message
    assert f"`{NAME}=...`" in message

    write_secrets(tmp_path, "OTHER=s3cr3t-value\n")
    with pytest.raises(SecretNotFound, match=f"has no {NAME}= line") as caught:
        secret(NAME, home=tmp_path)
    assert "s3cr3t-value" not in str(caught.value)
    assert registered_values() == ()


# -- masking ---------------------------------------------------------------------------------


def test_nothing_registered_returns_the_same_text() -> None:
    text = "nothing to hide here"
    assert mask(text) is text


def test_every_occurrence_is_masked() -> None:
    register("hunter22")
    assert mask("pw=hunter22; again hunter22.") == "pw=***; again ***."
    assert mask("hunter2") == "hunter2"


def test_json_data_is_masked_in_every_string() -> None:
    data = {"token": "hunter22", "list": ["a", "x-hunter22"], "n": 3, "hunter22": None}
    assert mask_json(data) == data  # nothing registered yet
    register("hunter22")
    assert mask_json(data) == {"token": "***", "list": ["a", "x-***"], "n": 3, "***": None}
    assert data["token"] == "hunter22"  # a copy: the caller's data is left as it was


def test_values_shorter_than_four_characters_are_not_masked() -> None:
    register("abc")
    register("")
    assert registered_values() == ()
    assert mask("abc abc") == "abc abc"
    register("abcd")
    assert mask("abc abcd") == "abc ***"


def test_a_value_inside_another_is_masked_whole() -> None:
    register("token")
    register("my-token-123")
    assert registered_values() == ("my-token-123", "token")
    assert mask("a my-token-123 b token c") == "a *** b *** c"


def test_overlapping_values_leave_no_character_behind() -> None:
    register("abcdef")
    register("defghi")
    assert mask("xx abcdefghi yy") == "xx *** yy"
    register("aaaa")
    assert mask("aaaaaaaaa!") == "***!"


def test_the_repr_form_is_masked_too() -> None:
    register("line one\nline 'two'")
    assert mask(repr("line one\nline 'two'")) == '"***"'
    assert mask("line one\nline 'two'") == "***"


def test_registering_is_thread_safe() -> None:
    values = [f"secret-value-{n:03d}" for n in range(200)]

    def work(chunk: list[str]) -> None:
        for value in chunk:
            register(value)

    threads = [threading.Thread(target=work, args=(values[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(registered_values()) == values
    assert mask("".join(values)) == "***"  # touching spans merge


# -- masking files -----------------------------------------------------------------------------


def test_mask_file_rewrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "attempt.log"
    path.write_text("using hunter22 now\nbye\n")
    assert not mask_file(path)  # nothing registered: untouched
    register("hunter22")
    inode = path.stat().st_ino
    assert mask_file(path)
    assert path.read_text() == "using *** now\nbye\n"
    assert path.stat().st_ino == inode
    assert not mask_file(path)
    assert not mask_file(tmp_path / "missing.log")
    assert not (tmp_path / "missing.log").exists()


def test_mask_file_streams_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "_CHUNK", 7)
    register("0123456789")
    register("ünïcödé")
    text = "".join(f"line {n}: 0123456789 ünïcödé x\n" for n in range(50)) + "0123456789"
    path = tmp_path / "big.log"
    path.write_text(text, encoding="utf-8")
    assert mask_file(path)
    assert path.read_text(encoding="utf-8") == mask(text)
    assert "0123456789" not in path.read_text(encoding="utf-8")

    clean_tail = tmp_path / "late.log"
    clean_tail.write_text("x" * 40 + "0123456789" + "y" * 3)
    assert mask_file(clean_tail)
    assert clean_tail.read_text() == "x" * 40 + "***" + "y" * 3
