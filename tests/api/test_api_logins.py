"""Passwords are checked in a bounded pool of their own: a full pool answers at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pauta.api.logins import LoginBusyError, PasswordPool


def test_a_full_pool_refuses_at_once_instead_of_queueing() -> None:
    release = threading.Event()

    def slow_check(password_hash: str | None, password: str) -> bool:
        release.wait(10)
        return password == "right"

    pool = PasswordPool(workers=1, pending=2, check=slow_check)

    async def scenario() -> list[bool]:
        first = asyncio.ensure_future(pool.check("h", "right"))
        second = asyncio.ensure_future(pool.check("h", "wrong"))
        await asyncio.sleep(0.05)
        with pytest.raises(LoginBusyError):
            await asyncio.wait_for(pool.check("h", "third"), timeout=1)
        release.set()
        results = list(await asyncio.gather(first, second))
        results.append(await pool.check("h", "right"))  # room again
        return results

    try:
        assert asyncio.run(scenario()) == [True, False, True]
    finally:
        pool.close()
