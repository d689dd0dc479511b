"""Submit-ahead accounting: which submitted attempts run, which wait in Ray's queue (pure)."""

from __future__ import annotations

import pytest

from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.executors.ray_ahead import StartOrder, ahead_of, ahead_setting

ONE = Resources(cpus=1)
TWO = Resources(cpus=2)


def test_attempts_beyond_the_capacity_wait_and_start_in_order_as_others_end() -> None:
    order = StartOrder()
    assert order.submitted("a", ONE, TWO)
    assert order.submitted("b", ONE, TWO)
    assert not order.submitted("c", ONE, TWO)
    assert not order.submitted("d", ONE, TWO)
    assert order.held() == TWO, "only the running ones hold the cluster"
    assert order.waiting() == ["c", "d"]
    assert order.ended("a", TWO) == ["c"]
    assert order.ended("c", TWO) == ["d"]
    assert order.held() == TWO
    assert order.ended("b", TWO) == []
    assert order.ended("d", TWO) == []
    assert order.held() == Resources(cpus=0)


def test_a_cancelled_waiting_attempt_frees_nothing_and_starts_nothing() -> None:
    order = StartOrder()
    order.submitted("a", ONE, ONE)
    assert not order.submitted("b", ONE, ONE)
    assert not order.submitted("c", ONE, ONE)
    assert order.ended("b", ONE) == []
    assert order.waiting() == ["c"]
    assert order.ended("a", ONE) == ["c"]


def test_a_later_attempt_never_starts_before_earlier_waiting_ones_on_submission() -> None:
    order = StartOrder()
    order.submitted("big", TWO, TWO)
    assert not order.submitted("wide", TWO, TWO)
    # room for a small one appears only once the big one ended: it must queue behind "wide"
    assert not order.submitted("small", ONE, TWO)
    # first fit in submission order: "wide" takes the freed cluster, "small" keeps waiting
    assert order.ended("big", TWO) == ["wide"]
    assert order.ended("wide", TWO) == ["small"]


def test_a_grown_cluster_starts_waiting_attempts_that_fit_now() -> None:
    order = StartOrder()
    order.submitted("a", ONE, ONE)
    order.submitted("b", ONE, ONE)
    assert order.promote(TWO) == ["b"]


def test_what_may_wait_ahead_is_a_multiple_of_the_cluster() -> None:
    total = Resources(cpus=2, gpus=1, custom={"node_b": 1})
    assert ahead_of(total, 0) == Resources(cpus=0)
    assert ahead_of(total, 1) == total
    assert ahead_of(total, 2) == Resources(cpus=4, gpus=2, custom={"node_b": 2})


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAUTA_RAY_AHEAD", raising=False)
    assert ahead_setting() == 1
    monkeypatch.setenv("PAUTA_RAY_AHEAD", "0")
    assert ahead_setting() == 0
    monkeypatch.setenv("PAUTA_RAY_AHEAD", "two")
    with pytest.raises(PautaError, match="PAUTA_RAY_AHEAD='two' must be a whole number"):
        ahead_setting()
