"""Services in the store: revision numbers, stable ports, compare-and-set revision states,
the supervisor's lease and status, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pauta.core.clock import FrozenClock
from pauta.core.errors import StaleWriteError, StoreError
from pauta.core.service_states import RevisionState
from pauta.store.repository import Store
from pauta.store.services import (
    PortChangedError,
    PortTakenError,
    ServiceNotFoundError,
    ServicesStore,
)

SPEC = {"kind": "app", "app": "m:f", "config": {}, "replicas": 1}
TTL = timedelta(seconds=15)


def test_revisions_are_numbered_per_service_and_keep_the_first_port(store: Store) -> None:
    services = ServicesStore(store)
    first = services.create_revision("churn", SPEC, port=8600, created_by="run a")
    second = services.create_revision(
        "churn", {**SPEC, "config": {"x": 1}}, port=None, created_by="b"
    )
    other = services.create_revision("other", SPEC, port=8601, created_by="c")
    assert (first.id, second.id, other.id) == ("churn@1", "churn@2", "other@1")
    assert second.state is RevisionState.PENDING
    assert second.spec["config"] == {"x": 1}
    assert services.service("churn").port == 8600
    assert [r.revision for r in services.revisions("churn")] == [2, 1]
    with pytest.raises(PortChangedError, match="listens on port 8600"):
        services.create_revision("churn", SPEC, port=9000, created_by="d")
    with pytest.raises(PortTakenError, match="taken by service 'churn'"):
        services.create_revision("third", SPEC, port=8600, created_by="e")
    with pytest.raises(StoreError, match="needs a port"):
        services.create_revision("fourth", SPEC, port=None, created_by="f")
    with pytest.raises(ServiceNotFoundError):
        services.service("third")


def test_revision_states_move_by_compare_and_set(store: Store) -> None:
    services = ServicesStore(store)
    services.create_revision("churn", SPEC, port=8600, created_by="a")
    services.transition("churn", 1, RevisionState.PENDING, RevisionState.STARTING)
    with pytest.raises(StaleWriteError):
        services.transition("churn", 1, RevisionState.PENDING, RevisionState.STARTING)
    with pytest.raises(StoreError, match="cannot go from STARTING to RETIRED"):
        services.transition("churn", 1, RevisionState.STARTING, RevisionState.RETIRED)
    services.promote("churn", 1, None)
    services.create_revision("churn", SPEC, port=None, created_by="b")
    services.transition("churn", 2, RevisionState.PENDING, RevisionState.STARTING)
    services.promote("churn", 2, 1)
    first, second = services.revision("churn", 1), services.revision("churn", 2)
    assert (first.state, second.state) == (RevisionState.RETIRED, RevisionState.SERVING)
    assert first.ended_at is not None
    assert second.ready_at is not None
    assert services.serving_revisions() == {"churn": 2}
    services.create_revision("churn", SPEC, port=None, created_by="c")
    services.transition("churn", 3, RevisionState.PENDING, RevisionState.STARTING)
    services.transition(
        "churn", 3, RevisionState.STARTING, RevisionState.FAILED, error="not ready\nlog tail"
    )
    assert services.revision("churn", 3).error == "not ready\nlog tail"
    assert {r.revision for r in services.active_revisions()} == {2}


def test_a_failed_promotion_changes_neither_revision(store: Store) -> None:
    services = ServicesStore(store)
    services.create_revision("churn", SPEC, port=8600, created_by="a")
    services.create_revision("churn", SPEC, port=None, created_by="b")
    services.transition("churn", 2, RevisionState.PENDING, RevisionState.STARTING)
    with pytest.raises(StaleWriteError):
        services.promote("churn", 2, 1)  # 1 is not SERVING
    assert services.revision("churn", 2).state is RevisionState.STARTING


def test_stop_marks_the_service_and_a_new_revision_clears_it(store: Store) -> None:
    services = ServicesStore(store)
    services.create_revision("churn", SPEC, port=8600, created_by="a")
    assert services.stop_service("churn").stopped_at is not None
    assert services.stop_service("churn").stopped_at is not None  # twice is fine
    services.create_revision("churn", SPEC, port=None, created_by="b")
    assert services.service("churn").stopped_at is None
    with pytest.raises(ServiceNotFoundError):
        services.stop_service("nope")


def test_one_supervisor_holds_the_lease_until_it_expires_or_is_released(
    store: Store,
) -> None:
    clock = FrozenClock()
    store.clock = clock
    services = ServicesStore(store)
    assert services.take_lease("a:1", "a", 1, "127.0.0.1", ttl=TTL) == 1
    assert services.take_lease("b:2", "b", 2, "127.0.0.1", ttl=TTL) is None
    clock.advance(10)
    assert services.renew_lease("a:1", 1)
    clock.advance(14)
    assert services.take_lease("b:2", "b", 2, "127.0.0.1", ttl=TTL) is None
    clock.advance(2)  # a's heartbeat is 16 s old
    assert services.take_lease("b:2", "b", 2, "10.0.0.2", ttl=TTL) == 2
    assert not services.renew_lease("a:1", 1)  # a lost it
    lease = services.lease()
    assert lease is not None
    assert (lease.holder, lease.address_host) == ("b:2", "10.0.0.2")
    # a holder known to be dead is taken over at once
    assert services.take_lease("c:3", "c", 3, "127.0.0.1", ttl=TTL, dead_holder="b:2") == 3
    services.release_lease("c:3", 3)
    assert services.lease() is None


def test_statuses_are_kept_per_service(store: Store) -> None:
    services = ServicesStore(store)
    services.create_revision("churn", SPEC, port=8600, created_by="a")
    services.write_statuses("a:1", {"churn": {"replicas": [1]}, "unknown": {"x": 1}})
    services.write_statuses("a:1", {"churn": {"replicas": [1, 2]}})
    found = services.statuses()
    assert set(found) == {"churn"}
    assert found["churn"].status == {"replicas": [1, 2]}
    status = services.status("churn")
    assert status is not None
    assert status.supervisor == "a:1"
    assert services.status("other") is None
