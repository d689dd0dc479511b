"""Checking passwords: off the request threads, in a bounded pool, behind a lockout.

An argon2 check costs ~0.1 s of CPU on purpose. Run on the threads that serve requests, a
flood of logins would take them all, and ``/health`` and every API call would wait behind it.
So passwords are checked in a pool of their own (``PASSWORD_WORKERS`` threads), awaited
without holding a request thread; when ``PASSWORD_PENDING`` checks are already waiting or
running, a login is answered 503 at once rather than queued. Repeated failures per user name
and per client address lock further attempts out for a while (``pauta.api.throttle``): 429
with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
from fastapi import Request

from pauta.api.throttle import LoginThrottle
from pauta.app import credentials as security
from pauta.app import users
from pauta.core.clock import Clock, get_clock
from pauta.core.errors import PautaError
from pauta.store.repository import Store

PASSWORD_WORKERS = max(1, min(2, (os.cpu_count() or 2) // 2))
"""Threads checking passwords: two, or one on a machine of two cores or fewer, so that a login
flood leaves at least half of the cores to everything else."""
PASSWORD_PENDING = 8
"""Checks running or waiting at most; the next login is answered 503 at once."""


class LoginThrottledError(PautaError):
    """Too many failed attempts for this user or from this address: answered 429."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            "too many wrong passwords for this user or from this address: try again in "
            f"{self.retry_after} s"
        )


class LoginBusyError(PautaError):
    """Every password-checking slot is taken: answered 503, to be retried shortly."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__("the server is busy checking other passwords: try again in a moment")


class PasswordPool:
    """A few threads that check passwords, with a bounded number of checks admitted."""

    def __init__(
        self,
        workers: int = PASSWORD_WORKERS,
        pending: int = PASSWORD_PENDING,
        check: Callable[[str | None, str], bool] = security.check_password,
    ) -> None:
        if workers < 1 or pending < workers:
            raise ValueError("a password pool needs workers >= 1 and pending >= workers")
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="pauta-passwords")
        self._slots = threading.BoundedSemaphore(pending)
        self._check = check

    async def check(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches (None checks a dummy hash and fails). LoginBusyError
        at once when the pool is full."""
        if not self._slots.acquire(blocking=False):
            raise LoginBusyError
        try:
            future = self._executor.submit(self._check, password_hash, password)
        except BaseException:
            self._slots.release()
            raise
        # released when the check ends, even if the client went away before
        future.add_done_callback(lambda _done: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class LoginGuard:
    """The password checks of one app: its pool and its lockouts. ``clock`` gives the time
    of the lockouts (its ``monotonic``); tests pass a frozen one."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        throttle: LoginThrottle | None = None,
        pool: PasswordPool | None = None,
    ) -> None:
        self.clock = clock or get_clock()
        self.throttle = throttle or LoginThrottle()
        self._pool = pool
        self._pool_lock = threading.Lock()

    @property
    def pool(self) -> PasswordPool:
        with self._pool_lock:  # made on first use: most apps of the tests never check one
            if self._pool is None:
                self._pool = PasswordPool()
            return self._pool

    async def authenticate(
        self, store: Store, username: str, password: str, address: str
    ) -> users.User | None:
        """The user with this name and password, or None. LoginThrottledError while the
        user or the address is locked out, LoginBusyError when the pool is full."""
        keys = (f"user:{username}", f"address:{address}")
        wait = self.throttle.retry_after(keys, self.clock.monotonic())
        if wait > 0:
            raise LoginThrottledError(wait)
        found = await anyio.to_thread.run_sync(users.login_record, store, username)
        user, password_hash = found if found is not None else (None, None)
        if await self.pool.check(password_hash, password) and user is not None:
            self.throttle.succeeded(keys)
            return user
        self.throttle.failed(keys, self.clock.monotonic())
        return None

    async def confirm(
        self, store: Store, username: str, password: str | None, address: str
    ) -> None:
        """Check a user's own password before a change it confirms: AuthError without one,
        WrongPasswordError when it does not match (and the errors of ``authenticate``)."""
        if not password:
            raise users.AuthError("changing your own password needs your current password")
        if await self.authenticate(store, username, password, address) is None:
            raise users.WrongPasswordError("the current password is wrong")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def guard_of(request: Request) -> LoginGuard:
    return request.app.state.logins  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """The caller's address (uvicorn takes it from X-Forwarded-For behind a trusted proxy)."""
    return request.client.host if request.client is not None else "unknown"
