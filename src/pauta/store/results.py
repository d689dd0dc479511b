"""Task results, stored by reference.

The metadata database keeps a ``StoredResult``: the serialized bytes themselves when they are
small, else a URL in the result store (a folder under the pauta home, or any fsspec URL), plus
the size and a short preview made when the result was written.
"""

from __future__ import annotations

import io
import os
import pickle
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from pauta.core.files import make_private_dirs, private_opener
from pauta.core.secrets import mask, registered_values


@dataclass(frozen=True, slots=True)
class StoredResult:
    """Where a result lives and what it looks like.

    Exactly one of ``uri`` and ``inline`` is set. ``serializer`` names how the bytes were
    written ("pickle" for cloudpickle); ``preview`` is a short text for people, never unpickled.
    """

    uri: str | None
    inline: bytes | None
    size: int
    serializer: str
    preview: str

    def __reduce__(self) -> tuple[Any, ...]:
        # a plain tuple pickles several times faster than the dataclass default
        return (StoredResult, (self.uri, self.inline, self.size, self.serializer, self.preview))


_PREVIEW_MAX = 200
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# Exact builtin types that the C pickler serializes identically to cloudpickle, much faster.
_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_BUILT_IN = frozenset({"pickle", "numpy", "file"})


def make_preview(value: Any) -> str:
    """A short text (at most 200 characters) describing ``value``; never raises.

    Arrays and DataFrames are described by shape and dtype/columns, so nothing large is
    formatted; anything else by a truncated ``repr``. Secrets read in this process show as
    ``***`` (masked before any cut, so no part of one survives).
    """
    if value is None or value is True or value is False:
        return repr(value)
    try:
        text = mask(_describe(value))
    except Exception:
        text = f"<{type(value).__name__}>"
    if len(text) > _PREVIEW_MAX:
        text = text[: _PREVIEW_MAX - 3] + "..."
    return text


def _describe(value: Any) -> str:
    kind = type(value)
    module = kind.__module__ or ""
    if module.startswith("numpy") and kind.__name__ == "ndarray":
        return f"ndarray shape={tuple(value.shape)} dtype={value.dtype}"
    if module.startswith("pandas") and kind.__name__ == "DataFrame":
        columns = ", ".join(str(c) for c in list(value.columns[:20]))
        more = ", ..." if len(value.columns) > 20 else ""
        return f"DataFrame shape={tuple(value.shape)} columns=[{columns}{more}]"
    if module.startswith("pandas") and kind.__name__ == "Series":
        return f"Series len={len(value)} dtype={value.dtype} name={value.name!r}"
    return (_masking_repr if registered_values() else _repr).repr(value)


class _ShortRepr(reprlib.Repr):
    """reprlib, except that an object whose repr raises reads ``<TypeName>``."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = 160
        self.maxother = 160
        self.maxlong = 60

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:
            return f"<{type(x).__name__}>"
        return text if len(text) <= self.maxother else text[: self.maxother - 3] + "..."


class _MaskingRepr(_ShortRepr):
    """``_ShortRepr`` that masks secrets before cutting, which could cut one in two.

    Used only once a secret was read in this process, so other previews pay nothing.
    """

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(mask(x), level)

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = mask(repr(x))
        except Exception:
            return f"<{type(x).__name__}>"
        return text if len(text) <= self.maxother else text[: self.maxother - 3] + "..."


_repr = _ShortRepr()
_masking_repr = _MaskingRepr()


def _safe_name(text: str) -> str:
    """A file-name-safe version of a key; a hash keeps distinct keys distinct."""
    cleaned = "".join(ch if ch in _SAFE else "_" for ch in text)[:80]
    if cleaned != text or cleaned.startswith("."):
        import hashlib  # here: only a key that needed cleaning

        cleaned = f"{cleaned}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return cleaned


def _is_plain_array(value: Any) -> bool:
    kind = type(value)
    if kind.__name__ != "ndarray" or kind.__module__ != "numpy":
        return False
    # Object arrays hold Python objects that only pickle can write.
    return not value.dtype.hasobject


class _SpillWriter:
    """A file-like sink that keeps up to ``limit`` bytes in memory, then streams to a file.

    The pickler writes through it, so a small result never touches the filesystem and a large
    one is written as it is produced instead of being built as one bytes object first.
    """

    def __init__(self, limit: int, open_target: Callable[[], BinaryIO]) -> None:
        self._limit = limit
        self._open_target = open_target
        self._memory: io.BytesIO | None = io.BytesIO()
        self.file: BinaryIO | None = None
        self.size = 0

    def write(self, data: Any) -> int:
        count = memoryview(data).nbytes
        self.size += count
        if self._memory is not None:
            self._memory.write(data)
            if self.size <= self._limit:
                return count
            self.file = self._open_target()
            self.file.write(self._memory.getbuffer())
            self._memory = None
            return count
        assert self.file is not None
        self.file.write(data)
        return count

    def inline_bytes(self) -> bytes:
        assert self._memory is not None
        return self._memory.getvalue()


def open_uri(uri: str) -> BinaryIO:
    """Open a stored result's or artifact's file (a path or an fsspec URL) for reading."""
    if "://" not in uri or uri.startswith("file://"):
        return open(uri.removeprefix("file://"), "rb")
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(uri)
    return fs.open(path, "rb")  # type: ignore[no-any-return]


class ResultStore:
    """Writes task results and reads them back.

    ``url`` is a local folder or any fsspec URL (``s3://bucket/prefix``). A result whose
    serialized form is at most ``inline_max`` bytes comes back inline in the ``StoredResult``
    and never touches the filesystem; larger ones are written to
    ``<url>/<run_id>/<key>.<attempt>.<ext>``. numpy arrays are written with ``np.save``
    (serializer ``"numpy"``, no pickle); everything else with cloudpickle (``"pickle"``).
    """

    def __init__(self, url: str, inline_max: int = 64 * 1024) -> None:
        self.url = url if "://" in url else os.path.abspath(os.path.expanduser(url))
        self.inline_max = inline_max
        self._fs: Any = None
        self._root = ""
        self._local = "://" not in url or url.startswith("file://")

    def put(self, value: Any, *, run_id: str, key: str, attempt: int) -> StoredResult:
        """Serialize ``value`` and return where it lives."""
        kind = type(value)
        preview = make_preview(value)
        if kind in _PLAIN:
            data = pickle.dumps(value, protocol=5)
            if len(data) <= self.inline_max:
                return StoredResult(None, data, len(data), "pickle", preview)
            path = self._path_for(run_id, key, attempt, "pkl")
            with self._open(path, "wb") as handle:
                handle.write(data)
            return StoredResult(self._uri(path), None, len(data), "pickle", preview)
        if kind.__module__ == "numpy" and _is_plain_array(value):
            return self._put_array(value, preview, run_id, key, attempt)
        from pauta.store.plugin_serializers import serializer_for

        plugin = serializer_for(value)
        if plugin is not None:
            return self._put_bytes(plugin[1].dumps(value), plugin, preview, run_id, key, attempt)
        import cloudpickle

        path = self._path_for(run_id, key, attempt, "pkl")
        writer = _SpillWriter(self.inline_max, lambda: self._open(path, "wb"))
        try:
            cloudpickle.Pickler(writer, protocol=5).dump(value)
        except BaseException:
            if writer.file is not None:
                writer.file.close()
                self._remove(path)
            raise
        if writer.file is None:
            data = writer.inline_bytes()
            return StoredResult(None, data, len(data), "pickle", preview)
        writer.file.close()
        return StoredResult(self._uri(path), None, writer.size, "pickle", preview)

    def _put_bytes(
        self,
        data: bytes,
        plugin: tuple[str, Any],
        preview: str,
        run_id: str,
        key: str,
        attempt: int,
    ) -> StoredResult:
        """A plugin serializer's bytes, inline or in a file named with its extension."""
        name, serializer = plugin
        if len(data) <= self.inline_max:
            return StoredResult(None, data, len(data), name, preview)
        path = self._path_for(run_id, key, attempt, _safe_name(serializer.extension))
        with self._open(path, "wb") as handle:
            handle.write(data)
        return StoredResult(self._uri(path), None, len(data), name, preview)

    def _put_array(
        self, value: Any, preview: str, run_id: str, key: str, attempt: int
    ) -> StoredResult:
        import numpy as np

        # The .npy header is a few hundred bytes at most: nbytes tells inline from file
        # without serializing twice.
        if value.nbytes <= self.inline_max:
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            if buffer.tell() <= self.inline_max:
                data = buffer.getvalue()
                return StoredResult(None, data, len(data), "numpy", preview)
        path = self._path_for(run_id, key, attempt, "npy")
        try:
            with self._open(path, "wb") as handle:
                np.save(handle, value, allow_pickle=False)
                size = handle.tell()
        except BaseException:
            self._remove(path)
            raise
        return StoredResult(self._uri(path), None, size, "numpy", preview)

    def put_artifact(
        self, name: str, value: Any, *, run_id: str, key: str, attempt: int
    ) -> StoredResult:
        """Keep an artifact a task logged: a file (given by path) is copied as it is, with
        serializer "file"; any other object is stored like a result, always as a file."""
        folder = f"{_safe_name(key)}.{attempt}.artifacts/{_safe_name(name)}"
        if isinstance(value, str | os.PathLike) and os.path.isfile(value):
            source = os.fspath(value)
            path = self._path_for(run_id, folder, 0, "file")
            import shutil  # here: a worker process starts without it

            with open(source, "rb") as src, self._open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            size = os.path.getsize(source)
            preview = mask(f"file {os.path.basename(source)} ({size} bytes)")
            return StoredResult(self._uri(path), None, size, "file", preview)
        whole = ResultStore(self.url, inline_max=0)
        whole._fs, whole._root = self._fs, self._root
        return whole.put(value, run_id=run_id, key=folder, attempt=0)

    def get(self, stored: StoredResult) -> Any:
        """Load the value a ``StoredResult`` describes (a file artifact: its bytes)."""
        if stored.serializer not in _BUILT_IN:
            return self._get_plugin(stored)
        if stored.inline is not None:
            if stored.serializer == "numpy":
                import numpy as np

                return np.load(io.BytesIO(stored.inline), allow_pickle=False)
            return pickle.loads(stored.inline)
        if stored.uri is None:
            raise ValueError("a StoredResult needs either inline bytes or a uri")
        with self._open_uri(stored.uri) as handle:
            if stored.serializer == "file":
                return handle.read()
            if stored.serializer == "numpy":
                import numpy as np

                return np.load(handle, allow_pickle=False)
            return pickle.load(handle)

    def _get_plugin(self, stored: StoredResult) -> Any:
        from pauta.store.plugin_serializers import serializer_named

        serializer = serializer_named(stored.serializer)
        if stored.inline is not None:
            return serializer.loads(stored.inline)
        if stored.uri is None:
            raise ValueError("a StoredResult needs either inline bytes or a uri")
        with self._open_uri(stored.uri) as handle:
            return serializer.loads(handle.read())

    def delete_run(self, run_id: str) -> None:
        """Remove every stored file of a run (inline results live in the database)."""
        fs, root = self._filesystem()
        folder = f"{root}/{_safe_name(run_id)}"
        if self._local:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        elif fs.exists(folder):
            fs.rm(folder, recursive=True)

    # -- file helpers ---------------------------------------------------------------------

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            if self._local:
                # Local folders are plain paths: no fsspec import in every worker.
                self._fs, self._root = False, self.url.removeprefix("file://").rstrip("/")
            else:
                from fsspec.core import url_to_fs

                self._fs, root = url_to_fs(self.url)
                self._root = root.rstrip("/")
        return self._fs, self._root

    def _path_for(self, run_id: str, key: str, attempt: int, ext: str) -> str:
        _, root = self._filesystem()
        return f"{root}/{_safe_name(run_id)}/{_safe_name(key)}.{attempt}.{ext}"

    def _open(self, path: str, mode: str) -> BinaryIO:
        if self._local:
            # Plain files for local folders: np.save/np.load then use fast tofile/fromfile.
            make_private_dirs(os.path.dirname(path))
            return open(path, mode, opener=private_opener)
        fs, _ = self._filesystem()
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        return fs.open(path, mode)  # type: ignore[no-any-return]

    def _open_uri(self, uri: str) -> BinaryIO:
        return open_uri(uri)

    def _uri(self, path: str) -> str:
        if self._local:
            return path
        return str(self._filesystem()[0].unstrip_protocol(path))

    def _remove(self, path: str) -> None:
        try:
            if self._local:
                os.unlink(path)
            else:
                self._filesystem()[0].rm(path)
        except OSError:
            pass
