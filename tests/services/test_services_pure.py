"""The pure parts of pauta.services: states and transitions, specs, traffic counters,
supervisor liveness, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pauta.core.resources import Resources
from pauta.core.service_states import (
    REPLICA_DOWN,
    REPLICA_ROUTABLE,
    REVISION_ACTIVE,
    REVISION_TERMINAL,
    REVISION_TRANSITIONS,
    ReplicaState,
    RevisionState,
    revision_transition_allowed,
)
from pauta.services.errors import ServiceSpecError
from pauta.services.lease import supervisor_alive
from pauta.services.replicas import Timing, backoff_delay
from pauta.services.spec import ServiceSpec, build_spec, check_name
from pauta.services.traffic import Traffic
from pauta.store.services import LeaseRecord

S = RevisionState


def test_the_named_sets_cover_every_state_once() -> None:
    assert set(RevisionState) == REVISION_ACTIVE | REVISION_TERMINAL
    assert not REVISION_ACTIVE & REVISION_TERMINAL
    assert set(REVISION_TRANSITIONS) == set(RevisionState)
    assert all(not REVISION_TRANSITIONS[s] for s in REVISION_TERMINAL)
    assert REPLICA_ROUTABLE | REPLICA_DOWN | {ReplicaState.DRAINING} == set(ReplicaState)


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (S.PENDING, S.STARTING, True),
        (S.PENDING, S.SUPERSEDED, True),
        (S.PENDING, S.SERVING, False),
        (S.STARTING, S.SERVING, True),
        (S.STARTING, S.FAILED, True),
        (S.STARTING, S.SUPERSEDED, True),
        (S.STARTING, S.RETIRED, False),
        (S.SERVING, S.RETIRED, True),
        (S.SERVING, S.STOPPED, True),
        (S.SERVING, S.FAILED, False),
        (S.RETIRED, S.SERVING, False),
        (S.FAILED, S.STARTING, False),
        (S.STOPPED, S.SERVING, False),
    ],
)
def test_revision_transitions(old: S, new: S, allowed: bool) -> None:
    assert revision_transition_allowed(old, new) is allowed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one"),
        ({"app": "m:f", "command": ["x"]}, "give exactly one"),
        ({"app": "not a ref"}, "module:factory"),
        ({"command": "serve --port 1"}, "non-empty list of strings"),
        ({"command": ["a", ""]}, "non-empty strings"),
        ({"app": "m:f", "replicas": 0}, "from 1 to 32"),
        ({"app": "m:f", "replicas": True}, "whole number"),
        ({"app": "m:f", "health": "health"}, "a path such as '/health'"),
        ({"app": "m:f", "health": "/a b"}, "a path such as"),
        ({"app": "m:f", "ready_timeout": 0}, "more than 0"),
        ({"app": "m:f", "config": [1]}, "must be a dict"),
        ({"app": "m:f", "config": {"x": object()}}, "must be JSON"),
        ({"app": "m:f", "config": {"x": "a" * 70_000}}, "over 64 KiB"),
        ({"app": "m:f", "resources": {"cpus": -1}}, "resources"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(options: dict, message: str) -> None:
    with pytest.raises(ServiceSpecError, match=message):
        build_spec(**options)


def test_a_spec_round_trips_through_its_json() -> None:
    spec = build_spec(
        app="churn_service:create_app",
        config={"model": "/m.pkl"},
        replicas=2,
        health=None,
        ready_timeout=5,
        resources=Resources(cpus=1, memory="256MiB"),
        path=["/flows"],
        cwd="/flows",
    )
    again = ServiceSpec.from_json(spec.to_json())
    assert again == spec
    assert again.same_program(
        build_spec(app="churn_service:create_app", path=["/flows"], cwd="/flows")
    )
    assert not again.same_program(build_spec(app="other:create_app", path=["/flows"], cwd="/flows"))
    assert spec.describe() == "app churn_service:create_app"


@pytest.mark.parametrize("name", ["", "Churn", "-x", "a b", "a/b", "x" * 64, 3])
def test_service_names_fit_urls_files_and_labels(name: object) -> None:
    with pytest.raises(ServiceSpecError):
        check_name(name)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_traffic_rate_and_percentiles_cover_recent_seconds() -> None:
    clock = Ticks()
    traffic = Traffic(clock)
    for i in range(100):
        traffic.record(200, 0.001 * (i + 1))  # 1..100 ms
    traffic.record(502, 0.5)
    found = traffic.snapshot()
    assert (found["requests"], found["errors"]) == (101, 1)
    assert found["by_class"] == {"2xx": 100, "5xx": 1}
    assert found["rps"] == pytest.approx(10.1)
    assert found["p50_ms"] == pytest.approx(51, rel=0.05)
    assert found["p99_ms"] == pytest.approx(100, rel=0.05)
    assert sum(found["histogram"]["counts"]) == 101
    clock.now += 30  # out of the rate's window, still in the percentiles'
    later = traffic.snapshot()
    assert later["rps"] == 0
    assert later["p50_ms"] == found["p50_ms"]
    clock.now += 31  # out of both
    traffic.record(200, 0.002)
    last = traffic.snapshot()
    assert last["window_requests"] == 1
    assert last["p99_ms"] == pytest.approx(2, rel=0.05)
    assert last["requests"] == 102  # totals never forget


def test_a_supervisor_is_alive_while_its_heartbeat_is_fresh_and_its_process_exists() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    lease = LeaseRecord("h:1", "h", 1, "127.0.0.1", 1, now - timedelta(seconds=5))
    assert supervisor_alive(lease, now, host="other")
    assert not supervisor_alive(lease, now + timedelta(seconds=20), host="other")
    assert supervisor_alive(lease, now, host="h", alive=lambda pid: True)
    assert not supervisor_alive(lease, now, host="h", alive=lambda pid: False)
    assert not supervisor_alive(None, now)


def test_restarts_back_off_doubling_to_a_cap() -> None:
    timing = Timing(backoff_first=0.5, backoff_max=30)
    assert [backoff_delay(n, timing) for n in (1, 2, 3, 4, 10)] == [0.5, 1, 2, 4, 30]
