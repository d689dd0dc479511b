"""The keys that seal connections at rest: Fernet (AES-128-CBC with HMAC-SHA256) from
``cryptography``, never hand-rolled.

The keys come from ``PAUTA_SECRET_KEY`` when it is set (one Fernet key, or several separated
by commas), else from the key file ``<pauta home>/secret.key`` (one key a line), which is
created with mode 0600 the first time a connection is added. The first key seals; every key
opens, so a new key can go first while connections sealed with the old one are resealed
(``pauta connections rotate-key``). A key file that group or others may read is refused, as
ssh refuses such a private key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from pauta.connections.errors import SecretKeyError
from pauta.core.files import PRIVATE_FILE, make_private_dirs

KEY_ENV = "PAUTA_SECRET_KEY"
KEY_FILENAME = "secret.key"


def key_file(home: Path | str) -> Path:
    return Path(home) / KEY_FILENAME


def key_id(key: bytes) -> str:
    """A short name for a key that tells keys apart without telling anything about them."""
    return hashlib.sha256(key.strip()).hexdigest()[:16]


def new_key() -> str:
    """A fresh Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys at hand: the first seals, all open."""

    keys: tuple[bytes, ...] = field(repr=False)
    where: str = ""
    """Where they came from, for messages: "PAUTA_SECRET_KEY" or "the key file PATH"."""

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id(k) for k in self.keys)

    def seal(self, data: bytes) -> tuple[bytes, str]:
        """``data`` encrypted with the first key, and that key's id."""
        return Fernet(self.keys[0]).encrypt(data), key_id(self.keys[0])

    def open(self, token: bytes, sealed_with: str, what: str) -> bytes:
        """The data of ``token``; SecretKeyError when no key here opens it."""
        # the key the row names first: a long list of old keys costs one try, not many
        ordered = sorted(self.keys, key=lambda k: key_id(k) != sealed_with)
        for key in ordered:
            try:
                return Fernet(key).decrypt(token)
            except InvalidToken:
                continue
        if sealed_with in self.ids:
            reason = f"it does not open with the key {sealed_with} from {self.where}: damaged?"
        else:
            reason = (
                f"it was sealed with another key (id {sealed_with}) than {self.where} holds "
                f"({', '.join(self.ids)})"
            )
        raise SecretKeyError(
            f"cannot open {what}: {reason}. Set {KEY_ENV} to the key it was sealed with "
            f"(several keys, separated by commas, are tried in turn), or add it again with "
            f"--force."
        )


def _parse(texts: list[str], where: str) -> Keys:
    keys = []
    for text in texts:
        key = text.strip().encode("ascii", "replace")
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyError(
                f"{where} does not hold a Fernet key (32 bytes in url-safe base64, 44 "
                f"characters; several separated by commas in {KEY_ENV}, one a line in a key "
                f"file). Make one with `pauta connections generate-key`."
            ) from None
        keys.append(key)
    if not keys:
        raise SecretKeyError(
            f"{where} holds no key; make one with `pauta connections generate-key`"
        )
    return Keys(tuple(keys), where)


def _read_key_file(path: Path) -> Keys | None:
    try:
        handle = open(path, encoding="ascii", errors="replace")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    with handle:
        mode = os.fstat(handle.fileno()).st_mode & 0o777
        if os.name == "posix" and mode & 0o077:
            raise SecretKeyError(
                f"refusing the key file {path}: group or others may access it (mode "
                f"{mode:04o}), so the connections it seals are as good as in the clear. "
                f"Make it private with `chmod 600 {shlex.quote(str(path))}` (and consider "
                f"rotating the key: `pauta connections rotate-key`)."
            )
        lines = [line.strip() for line in handle]
    keys = [line for line in lines if line and not line.startswith("#")]
    return _parse(keys, f"the key file {path}")


def load(home: Path | str, *, create: bool = False) -> Keys | None:
    """The keys from ``PAUTA_SECRET_KEY``, else from the key file of ``home``.

    Without either: with ``create``, a new key file (mode 0600); else None.
    """
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return _parse([part for part in from_env.split(",") if part.strip()], KEY_ENV)
    path = key_file(home)
    found = _read_key_file(path)
    if found is None and create:
        _create_key_file(path)
        found = _read_key_file(path)
    return found


def _write_private(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` to a new owner-only file beside ``path``; the new file's path."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write("".join(f"{line}\n" for line in lines))
        out.flush()
        os.fsync(out.fileno())
    return temporary


def _create_key_file(path: Path) -> None:
    make_private_dirs(path.parent)
    temporary = _write_private(path, [new_key()])
    try:
        # link, not rename: of two processes creating the file at once, one wins and the
        # other reads the winner's key, never half a file
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def write_key_file(home: Path | str, keys: list[str]) -> Path:
    """Replace the key file of ``home`` with ``keys`` (the first seals), atomically."""
    path = key_file(home)
    make_private_dirs(path.parent)
    os.replace(_write_private(path, keys), path)
    return path


def keys_from_env() -> bool:
    return bool(os.environ.get(KEY_ENV, "").strip())


def missing_key(home: Path | str, what: str) -> SecretKeyError:
    """The error for a sealed connection when no key is at hand."""
    path = key_file(home)
    return SecretKeyError(
        f"cannot open {what}: it is sealed with a key, but {KEY_ENV} is not set and the key "
        f"file {path} does not exist. Set {KEY_ENV} to the key it was sealed with, or put "
        f"that key in {path} (mode 0600)."
    )
