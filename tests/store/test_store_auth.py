"""Users and tokens in the store: the last admin survives concurrent demotions and deletions,
and tokens may expire."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pauta.store.auth import AuthStore, LastAdminError
from pauta.store.repository import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROUNDS = 30


def _race(first: Callable[[], None], second: Callable[[], None]) -> list[BaseException]:
    """Run both at the same moment (as near as threads get); the errors they raised."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def go(action: Callable[[], None]) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as exc:  # collected and checked by the test
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(a,)) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _admins(auth: AuthStore) -> list[str]:
    return [u.username for u in auth.list_users() if u.role == "admin"]


@pytest.mark.postgres
@pytest.mark.parametrize("change", ["demote", "delete"])
def test_two_admins_removing_each_other_at_once_leave_one(pg_url: str, change: str) -> None:
    # Two admins demote (or delete) each other at the same moment, many times over: one of the
    # two changes must always be refused, or nobody could manage users any more.
    with Store(pg_url) as store:
        auth = AuthStore(store)
        refused = 0
        for _ in range(ROUNDS):
            for name in ("ada", "bob"):
                if auth.get_user(name) is None:
                    auth.create_user(name, "hash", "admin", T0)
                else:
                    auth.set_role(name, "admin")

            def remove(name: str) -> Callable[[], None]:
                if change == "demote":
                    return lambda: auth.set_role(name, "viewer")
                return lambda: auth.delete_user(name)

            errors = _race(remove("bob"), remove("ada"))
            assert all(isinstance(e, LastAdminError) for e in errors), errors
            assert len(_admins(auth)) == 1
            refused += len(errors)
        assert refused == ROUNDS


def test_tokens_carry_their_expiry(store: Store) -> None:
    auth = AuthStore(store)
    auth.create_user("ada", "hash", "viewer", T0)
    auth.add_token("t1", "ada", "h1", T0, expires_at=T0 + timedelta(days=1))
    auth.add_token("t2", "ada", "h2", T0)
    found = auth.token_owner("h1", T0 + timedelta(hours=23))
    assert found is not None
    assert found[0].username == "ada"
    assert found[1] == T0 + timedelta(days=1)
    later = T0 + timedelta(days=1, seconds=1)
    found = auth.token_owner("h1", later)
    assert found is not None
    assert found[1] < later  # the caller tells the user it expired
    assert auth.token_owner("h2", T0 + timedelta(days=3650)) is not None  # no expiry
    listed = {t.id: t.expires_at for t in auth.list_tokens("ada")}
    assert listed == {"t1": T0 + timedelta(days=1), "t2": None}
