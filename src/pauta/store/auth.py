"""Users, API tokens and web sessions in the metadata store.

Only hashes of secrets are stored: argon2 hashes of passwords (made by the caller), sha256
hashes of API and session tokens. Hashing and checking are the API layer's job; this module
reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pauta.core.errors import StoreError, UnknownUserError
from pauta.store import db
from pauta.store.repository import Store
from pauta.store.tables import api_tokens, sessions, users

# A token's last use is recorded at most this often: a write on every request would make
# every API call a write transaction.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UserExistsError(StoreError):
    """A user with this name exists already."""


class UnknownTokenError(StoreError):
    """No API token has this id."""


class LastAdminError(StoreError):
    """The change would leave no admin to manage users."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token's metadata (never the token: only its hash is stored)."""

    id: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    role: str
    created_at: datetime
    password_hash: str = ""


class AuthStore:
    """Users, tokens and sessions of one ``Store`` (same database, same connection pool)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._writer = db.writer(store.engine)

    # users -------------------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, role: str, now: datetime) -> None:
        """Add a user. UserExistsError when the name is taken."""
        stmt = sa.insert(users).values(
            username=username, password_hash=password_hash, role=role, created_at=now
        )
        try:
            with self._writer.begin() as conn:
                conn.execute(stmt)
        except sa.exc.IntegrityError:
            raise UserExistsError(f"a user named {username!r} exists already") from None

    def set_password(self, username: str, password_hash: str) -> None:
        stmt = sa.update(users).where(users.c.username == username)
        with self._writer.begin() as conn:
            if conn.execute(stmt.values(password_hash=password_hash)).rowcount == 0:
                raise UnknownUserError(f"no user named {username!r}")

    def set_role(self, username: str, role: str) -> None:
        """Give a user another role; never take the last admin's away."""
        with self._writer.begin() as conn:
            admins = _lock_admins(conn)
            _role_of(conn, username)
            if username in admins and role != "admin":
                _refuse_last_admin(admins, username)
            conn.execute(sa.update(users).where(users.c.username == username).values(role=role))

    def delete_user(self, username: str) -> None:
        """Remove a user, its API tokens and its sessions. UnknownUserError when there is no
        such user; LastAdminError when it is the last admin (nobody could manage users)."""
        u = users.c
        with self._writer.begin() as conn:
            admins = _lock_admins(conn)
            _role_of(conn, username)
            if username in admins:
                _refuse_last_admin(admins, username)
            # explicit, not left to ON DELETE CASCADE: SQLite enforces it only per connection
            conn.execute(sa.delete(api_tokens).where(api_tokens.c.username == username))
            conn.execute(sa.delete(sessions).where(sessions.c.username == username))
            conn.execute(sa.delete(users).where(u.username == username))

    def end_sessions(self, username: str) -> int:
        """Log a user out everywhere; how many sessions ended."""
        with self._writer.begin() as conn:
            return int(
                conn.execute(sa.delete(sessions).where(sessions.c.username == username)).rowcount
            )

    def get_user(self, username: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return UserRecord(**row._mapping) if row is not None else None

    def list_users(self) -> list[UserRecord]:
        """Every user, by name, without password hashes."""
        cols = (users.c.username, users.c.role, users.c.created_at)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).order_by(users.c.username))
            return [UserRecord(*row) for row in rows]

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() or 0)

    # API tokens --------------------------------------------------------------------------------
    def add_token(
        self,
        token_id: str,
        username: str,
        token_hash: str,
        now: datetime,
        expires_at: datetime | None = None,
    ) -> None:
        """Record a token (by its hash) for an existing user; it never expires without
        ``expires_at``."""
        if self.get_user(username) is None:
            raise UnknownUserError(f"no user named {username!r}")
        stmt = sa.insert(api_tokens).values(
            id=token_id,
            username=username,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
        )
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        """Tokens (of one user, or of everyone), oldest first."""
        t = api_tokens.c
        query = sa.select(t.id, t.username, t.created_at, t.last_used_at, t.expires_at).order_by(
            t.created_at, t.id
        )
        if username is not None:
            query = query.where(t.username == username)
        with self.engine.connect() as conn:
            return [TokenRecord(*row) for row in conn.execute(query)]

    def delete_token(self, token_id: str) -> bool:
        """Revoke a token; False when there was no such token."""
        with self._writer.begin() as conn:
            deleted = conn.execute(sa.delete(api_tokens).where(api_tokens.c.id == token_id))
        return deleted.rowcount == 1

    def token_owner(
        self, token_hash: str, now: datetime
    ) -> tuple[UserRecord, datetime | None] | None:
        """The user a token belongs to and when the token expires (None: never), or None for
        an unknown token. The use of a live token is recorded; the caller refuses an expired
        one (and can say why)."""
        t, u = api_tokens.c, users.c
        query = (
            sa.select(t.id, t.last_used_at, t.expires_at, u.username, u.role, u.created_at)
            .join(users, u.username == t.username)
            .where(t.token_hash == token_hash)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        live = row.expires_at is None or now < row.expires_at
        stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
        if live and stale:
            with self._writer.begin() as conn:
                conn.execute(sa.update(api_tokens).where(t.id == row.id).values(last_used_at=now))
        return UserRecord(row.username, row.role, row.created_at), row.expires_at

    # sessions ----------------------------------------------------------------------------------
    def add_session(
        self, session_hash: str, username: str, csrf_token: str, now: datetime, expires: datetime
    ) -> None:
        """Record a session; expired sessions are removed on the way."""
        with self._writer.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                sa.insert(sessions).values(
                    id=session_hash,
                    username=username,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires,
                )
            )

    def session(self, session_hash: str, now: datetime) -> tuple[UserRecord, str] | None:
        """The user and CSRF token of a live session, or None (unknown or expired)."""
        s, u = sessions.c, users.c
        query = (
            sa.select(u.username, u.role, u.created_at, s.csrf_token)
            .join(users, u.username == s.username)
            .where(s.id == session_hash, s.expires_at > now)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return UserRecord(row.username, row.role, row.created_at), row.csrf_token

    def delete_session(self, session_hash: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.id == session_hash))


def _role_of(conn: sa.Connection, username: str) -> str:
    role = conn.execute(sa.select(users.c.role).where(users.c.username == username)).scalar()
    if role is None:
        raise UnknownUserError(f"no user named {username!r}")
    return str(role)


def _lock_admins(conn: sa.Connection) -> set[str]:
    """The admins' names, their rows locked until the transaction ends.

    Counting admins and then updating is not enough under READ COMMITTED (PostgreSQL): two
    admins demoting each other would both count two and both succeed. With the rows locked the
    second transaction waits for the first and then sees the first one's change. SQLite
    serialises writers anyway (BEGIN IMMEDIATE) and ignores FOR UPDATE.
    """
    query = (
        sa.select(users.c.username)
        .where(users.c.role == "admin")
        .order_by(users.c.username)  # one lock order for every transaction: no deadlock
        .with_for_update()
    )
    return set(conn.execute(query).scalars())


def _refuse_last_admin(admins: set[str], username: str) -> None:
    if admins == {username}:
        raise LastAdminError(f"{username!r} is the last admin: make another user admin first")
