"""``copy`` between fsspec locations (local folders and a real S3 server), streamed in blocks,
and files that appear whole or not at all."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import fsspec
import pytest

from pauta.operators import Copied, OperatorError, copy
from pauta.operators.storage import write_atomically


def _file(path: Path, size: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(url: str) -> str:
    with fsspec.open(url, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _write_then_fail(url: str, data: bytes, message: str) -> None:
    with write_atomically(url, "test") as handle:
        handle.write(data)
        raise RuntimeError(message)


def test_a_local_copy_in_blocks(tmp_path: Path) -> None:
    digest = _file(tmp_path / "model.bin", 3_000_001)
    done = copy(
        str(tmp_path / "model.bin"),
        str(tmp_path / "out" / "deep" / "model.bin"),
        block_size=1 << 20,
    )
    assert done == Copied(
        bytes=3_000_001, seconds=done.seconds, target=str(tmp_path / "out" / "deep" / "model.bin")
    )
    assert _digest(str(tmp_path / "out" / "deep" / "model.bin")) == digest


def test_to_s3_and_back(tmp_path: Path, bucket: str) -> None:
    digest = _file(tmp_path / "model.bin", 12 << 20)  # more than one multipart part
    assert copy(str(tmp_path / "model.bin"), f"{bucket}/models/model.bin").bytes == 12 << 20
    assert _digest(f"{bucket}/models/model.bin") == digest
    copy(f"{bucket}/models/model.bin", f"{bucket}/models/copy.bin")
    copy(f"{bucket}/models/copy.bin", str(tmp_path / "back.bin"))
    assert _digest(str(tmp_path / "back.bin")) == digest


def test_an_empty_file_is_copied(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert copy(str(tmp_path / "empty"), str(tmp_path / "empty-copy")).bytes == 0
    assert (tmp_path / "empty-copy").read_bytes() == b""


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_failed_write_leaves_no_file(tmp_path: Path, bucket: str, where: str) -> None:
    url = str(tmp_path / "partial.bin") if where == "local" else f"{bucket}/partial.bin"
    with pytest.raises(RuntimeError, match="broke halfway"):
        _write_then_fail(url, b"x" * (6 << 20), "broke halfway")
    fs, path = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    assert not fs.exists(path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left beside it either


def test_an_existing_target_is_replaced_only_when_the_copy_is_whole(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        _write_then_fail(str(tmp_path / "target"), b"new but unfinished", "interrupted")
    assert (tmp_path / "target").read_bytes() == b"old"
    _file(tmp_path / "source", 10)
    copy(str(tmp_path / "source"), str(tmp_path / "target"))
    assert (tmp_path / "target").read_bytes() == (tmp_path / "source").read_bytes()


@pytest.mark.parametrize(
    ("src", "kwargs", "message"),
    [
        ("missing.bin", {}, "is not a file"),
        (".", {}, "is not a file"),
        ("source", {"block_size": 0}, "block_size must be a whole number"),
    ],
)
def test_bad_copies_are_refused(tmp_path: Path, src: str, kwargs: dict, message: str) -> None:
    _file(tmp_path / "source", 10)
    with pytest.raises(OperatorError, match=message):
        copy(str(tmp_path / src), str(tmp_path / "x"), **kwargs)
