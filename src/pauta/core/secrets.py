"""Secrets for tasks: looked up by name, and masked wherever task text leaves the task.

``secret("NAME")`` returns the value of the environment variable ``NAME`` when it is set and
not empty, else the ``NAME=`` line of the secrets file ``<pauta home>/secrets.env``. The file
holds ``KEY=VALUE`` lines (``export KEY=VALUE`` works too; blank lines and lines starting with
``#`` are skipped; one pair of matching quotes around a value is removed, nothing else is
unescaped) and must be readable by its owner only, as ssh insists for keys.

Every value ``secret()`` returns is registered in a process-wide registry, in the process
that called it. The executors pass what leaves a task (its log, its result preview, its error
message and traceback) through ``mask``, which writes ``***`` over every registered value.
Values shorter than ``MIN_MASKED_LENGTH`` characters are returned but never masked: masking
"1" or "no" would blank out half of every log. Connections (``pauta.connections``) register
their passwords and secret extras here too, when a process resolves one.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, AnyStr

from pauta.core.errors import PautaError

if TYPE_CHECKING:
    from pathlib import Path

SECRETS_FILENAME = "secrets.env"
MIN_MASKED_LENGTH = 4
MASK = "***"
_CHUNK = 1 << 20


class SecretError(PautaError):
    """A secret could not be read."""


class SecretNotFound(SecretError):
    """No environment variable and no secrets-file line holds the secret asked for."""


class SecretsFileError(SecretError):
    """The secrets file is readable by others, or has a line that is not ``KEY=VALUE``."""


# The registry is one immutable snapshot, replaced whole under the lock: readers take one
# reference without locking, which keeps ``mask`` free when nothing was registered.
# (values longest first, what to search for as text, the same as UTF-8 bytes)
_Snapshot = tuple[tuple[str, ...], tuple[str, ...], tuple[bytes, ...]]
_EMPTY: _Snapshot = ((), (), ())
_snapshot: _Snapshot = _EMPTY
_lock = threading.Lock()
_names: set[str] = set()


def secrets_file(home: Path | str | None = None) -> str:
    """Where the secrets file of ``home`` (default: the pauta home) is."""
    if home is None:
        # Here, not at the top: settings brings pathlib, which `import pauta` does not need.
        from pauta.core.settings import find_home

        home = find_home()
    return os.path.join(os.fspath(home), SECRETS_FILENAME)


def secret(name: str, *, home: Path | str | None = None) -> str:
    """The value of secret ``name``: the environment variable ``name``, else the secrets file.

    An empty environment variable counts as unset. The value is registered so that pauta
    masks it as ``***`` in this process's task logs, result previews and errors. ``home``
    overrides the pauta home whose ``secrets.env`` is read. Raises ``SecretNotFound`` when
    neither place has it, and ``SecretsFileError`` when the file is readable by others or
    malformed.
    """
    if not isinstance(name, str) or not (name.isascii() and name.isidentifier()):
        raise ValueError(
            f"a secret's name is an environment variable name (letters, digits and _, not "
            f"starting with a digit), got {name!r}"
        )
    value = os.environ.get(name)
    if not value:
        path = secrets_file(home)
        found = read_secrets_file(path)
        if found is None:
            where = f"{path} does not exist"
        else:
            value = found.get(name)
            where = f"{path} has no {name}= line"
        if value is None:
            raise SecretNotFound(
                f"secret {name!r} not found: the environment variable {name} is not set (or "
                f"empty) and {where}. Set {name} in the environment the task runs in, or add "
                f"a line `{name}=...` to {path} (readable only by you: chmod 600)."
            )
    register(value)
    _names.add(name)
    return value


def revealed_names() -> tuple[str, ...]:
    """The names of the secrets this process has read (never their values): a worker reports
    them so that the driving process masks the same values in what it shows."""
    return tuple(sorted(_names)) if _names else ()


def note_revealed(source: str) -> None:
    """Record that this process read secrets from ``source``, another kind of place than a
    secret (``connection:NAME``), so that ``revealed_names`` reports it too. The owner of that
    kind reads it again in the driving process; ``reveal_secrets`` leaves such names alone."""
    _names.add(source)


def read_secrets_file(path: str | os.PathLike[str]) -> dict[str, str] | None:
    """The ``KEY=VALUE`` pairs of the secrets file at ``path``; None when it does not exist.

    Raises ``SecretsFileError`` when group or others may access the file, or when a line is
    not a pair (the message gives the line number, never the line, which may hold a secret).
    """
    try:
        handle = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        mode = os.fstat(handle.fileno()).st_mode & 0o777
        if os.name == "posix" and mode & 0o077:
            import shlex

            command = f"chmod 600 {shlex.quote(os.fspath(path))}"
            raise SecretsFileError(
                f"refusing to read secrets from {path}: group or others may access it "
                f"(mode {mode:04o}). Make it private with `{command}`."
            )
        pairs: dict[str, str] = {}
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.removeprefix("export ").partition("=")
            key = key.strip()
            if not sep or not (key.isascii() and key.isidentifier()):
                raise SecretsFileError(
                    f"{path}, line {number}: expected KEY=VALUE with KEY a variable name "
                    f"(lines starting with # are comments); the line is not shown, it may "
                    f"hold a secret"
                )
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            pairs[key] = value  # a later line wins, as when a shell sources the file
        return pairs


def register(value: str) -> None:
    """Mask ``value`` from now on in this process (no-op below ``MIN_MASKED_LENGTH``).

    Its ``repr`` form is masked too when it differs (``'a\\nb'`` for a two-line value), so an
    exception message built with ``{value!r}`` is covered.
    """
    global _snapshot
    if len(value) < MIN_MASKED_LENGTH or value in _snapshot[0]:
        return
    with _lock:
        values, needles, _ = _snapshot
        if value in values:
            return
        escaped = repr(value)[1:-1]
        added = (value,) if escaped == value else (value, escaped)
        values = tuple(sorted((*values, value), key=len, reverse=True))
        needles = tuple(sorted({*needles, *added}, key=len, reverse=True))
        encoded = tuple(n.encode("utf-8", "backslashreplace") for n in needles)
        _snapshot = (values, needles, encoded)


def registered_values() -> tuple[str, ...]:
    """The values masked in this process, longest first (empty until a secret is read)."""
    return _snapshot[0]


def clear_registry() -> None:
    """Forget every registered value (for tests)."""
    global _snapshot
    with _lock:
        _snapshot = _EMPTY
        _names.clear()


def mask(text: str) -> str:
    """``text`` with ``***`` over every occurrence of every registered value.

    Where occurrences overlap or touch (one secret inside or across another), their union is
    replaced by one ``***``, so no character of any occurrence survives.
    """
    needles = _snapshot[1]
    if not needles:
        return text
    spans = _spans(text, needles)
    return _replace(text, spans, MASK) if spans else text


def mask_bytes(data: bytes) -> bytes:
    """``data`` (output, as bytes) with ``***`` over every registered value."""
    needles = _snapshot[2]
    if not needles:
        return data
    spans = _spans(data, needles)
    return _replace(data, spans, MASK.encode()) if spans else data


def mask_json(value: Any) -> Any:
    """JSON data (dicts, lists, strings, numbers) with every string in it masked: the form of
    parameters that are stored and shown (a child flow given a ``secret()``)."""
    if not _snapshot[1]:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask(k) if isinstance(k, str) else k: mask_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(item) for item in value]
    return value


def mask_file(path: str | os.PathLike[str]) -> bool:
    """Mask the registered values in the file at ``path``, in place; True if it changed.

    The file is rewritten through the same inode (a task's child process still appending to
    it keeps its handle), streaming, so a large log is not read into memory. A missing file is
    left missing.
    """
    needles = _snapshot[2]
    if not needles:
        return False
    # "***" is shorter than any masked value, so the write position never passes the read one.
    keep = max(map(len, needles)) - 1  # an occurrence may start in a chunk's last `keep` bytes
    try:
        reader = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    changed = False
    with reader, open(path, "r+b") as writer:
        pending = b""
        while True:
            chunk = reader.read(_CHUNK)
            buffer = pending + chunk
            cut = len(buffer) if not chunk else max(0, len(buffer) - keep)
            spans = _spans(buffer, needles)
            for start, end in spans:
                if start < cut < end:
                    cut = end
            done = [(s, e) for s, e in spans if e <= cut]
            if done or changed:
                changed = True
                writer.write(_replace(buffer[:cut], done, MASK.encode()))
            else:
                writer.seek(cut, os.SEEK_CUR)
            pending = buffer[cut:]
            if not chunk:
                break
        if changed:
            writer.truncate()
    return changed


def _spans(text: AnyStr, needles: tuple[AnyStr, ...]) -> list[tuple[int, int]]:
    """Where the needles occur in ``text``: sorted, overlapping and touching ones merged."""
    found: list[tuple[int, int]] = []
    for needle in needles:
        size = len(needle)
        first = len(found)
        start = text.find(needle)
        while start >= 0:
            # Runs of overlapping occurrences ("aaaaaa" for "aaaa") grow one span, not many.
            if len(found) > first and start <= found[-1][1]:
                found[-1] = (found[-1][0], start + size)
            else:
                found.append((start, start + size))
            start = text.find(needle, start + 1)
    if len(found) < 2:
        return found
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _replace(text: AnyStr, spans: list[tuple[int, int]], fill: AnyStr) -> AnyStr:
    parts = []
    position = 0
    for start, end in spans:
        parts.append(text[position:start])
        parts.append(fill)
        position = end
    parts.append(text[position:])
    return text[:0].join(parts)


def reveal_secrets(names: tuple[str, ...] | list[str]) -> None:
    """Read (and so register for masking) the secrets another process reported reading.

    The driving process calls this with the names a worker reported, so that what it shows
    (a flow's result preview, an error) masks the same values. A secret it cannot read is
    skipped: it cannot leak a value it never had.
    """
    for name in names:
        if ":" in name:
            continue  # another kind of source (note_revealed): its owner reveals it
        if name not in _names:
            try:
                secret(name)
            except (SecretError, ValueError):
                continue
