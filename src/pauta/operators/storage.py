"""Files at fsspec URLs (a local path, ``s3://bucket/key``, ``gs://``...): reading, and
writing so that a failure leaves no partial file.

A file is written with fsspec's ``autocommit=False``: the bytes go to a temporary file beside
the target (local) or to a multipart upload that is not completed yet (S3), and only
``commit`` makes them the file. A failure discards them. Credentials and endpoints come from
the filesystem's usual configuration (for S3: ``AWS_*`` variables, ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from pauta.operators.errors import OperatorError


def filesystem(url: str, where: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path in it."""
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url.strip():
        raise OperatorError(f"{where}: give a path or a URL such as s3://bucket/key, not {url!r}")
    from fsspec.core import url_to_fs

    try:
        return url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise OperatorError(f"{where}: cannot open {url}: {exc}") from None


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


@contextmanager
def write_atomically(url: str, where: str) -> Iterator[IO[bytes]]:
    """A file to write ``url`` through; it exists (whole) only once the block ends well."""
    fs, path = filesystem(url, where)
    if _is_local(fs):
        fs.makedirs(fs._parent(path), exist_ok=True)
    try:
        handle = fs.open(path, "wb", autocommit=False)
        staged = True
    except (NotImplementedError, TypeError, ValueError):  # no transactions on this filesystem
        handle = fs.open(path, "wb")
        staged = False
    try:
        yield handle
        handle.close()
        if staged:
            handle.commit()
    except BaseException:
        if staged:
            with suppress(Exception):
                handle.discard()
        else:
            with suppress(Exception):
                handle.close()
            with suppress(Exception):
                fs.rm(path)
        raise


def expand(url: str, where: str, suffix: str = "") -> tuple[Any, list[str]]:
    """The files ``url`` names: itself, the files of a folder (those ending in ``suffix``), or
    a glob's matches; sorted."""
    fs, path = filesystem(url, where)
    if any(c in path for c in "*?["):
        found = sorted(fs.glob(path))
    elif fs.isdir(path):
        found = sorted(p for p in fs.find(path) if p.endswith(suffix))
    elif fs.exists(path):
        found = [path]
    else:
        raise OperatorError(f"{where}: {url} does not exist")
    if not found:
        raise OperatorError(f"{where}: {url} holds no {suffix or 'file'}")
    return fs, found
