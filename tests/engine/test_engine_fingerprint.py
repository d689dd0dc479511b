"""Replay keys and input fingerprints of task calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from pauta.engine.calls import TaskCall
from pauta.engine.fingerprint import call_key, fingerprint
from pauta.engine.futures import TaskFuture

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Split:
    """Not plain data: fingerprinted through the pickle path."""

    train: float
    seed: int


def _future(key: str) -> TaskFuture[Any]:
    call = TaskCall(None, key, None, key.split("-")[0], created_at=T0)  # type: ignore[arg-type]
    return TaskFuture(call)


@pytest.mark.parametrize(
    ("name", "count", "map_index", "expected"),
    [
        ("train", 1, None, "train-1"),
        ("train", 0, None, "train-0"),
        ("score", 0, 3, "score-0[3]"),
        ("score", 2, 0, "score-2[0]"),
        ("load-data", 10, None, "load-data-10"),
    ],
)
def test_call_key(name: str, count: int, map_index: int | None, expected: str) -> None:
    assert call_key(name, count, map_index) == expected


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((1, 2.5, "x", None, True), {"lr": 0.1}),
        (([1, [2, (3,)]],), {"cfg": {"depth": 4, "tags": ["a"]}}),
        ((date(2026, 1, 5), Decimal("1.10"), b"raw"), {}),
        ((Split(0.8, 7),), {"split": Split(0.8, 7)}),
        (({1, 2, 3}, frozenset({"a"})), {}),
    ],
    ids=["empty", "scalars", "nested", "other scalars", "dataclass", "sets"],
)
def test_fingerprint_is_stable_for_equal_inputs(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    first = fingerprint("train", args, kwargs)
    # rebuilt, equal but not identical inputs
    copy_args = tuple(_rebuild(a) for a in args)
    copy_kwargs = {k: _rebuild(v) for k, v in kwargs.items()}
    assert fingerprint("train", copy_args, copy_kwargs) == first
    assert len(first) == 16
    int(first, 16)


def _rebuild(value: Any) -> Any:
    if isinstance(value, Split):
        return Split(value.train, value.seed)
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_rebuild(v) for v in value)
    if isinstance(value, dict):
        return {k: _rebuild(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (((1,), {}), ((2,), {})),
        (((), {"lr": 0.1}), ((), {"lr": 0.01})),
        (((), {"lr": 0.1}), ((), {"rate": 0.1})),
        ((([1, 2],), {}), (([2, 1],), {})),
        ((([1, 2],), {}), (((1, 2),), {})),
        (((Split(0.8, 7),), {}), ((Split(0.8, 8),), {})),
        (((1, 2), {}), ((1,), {"y": 2})),
    ],
    ids=["arg", "kwarg value", "kwarg name", "list order", "list vs tuple", "dataclass", "by name"],
)
def test_fingerprint_differs_when_a_literal_differs(
    a: tuple[tuple[Any, ...], dict[str, Any]], b: tuple[tuple[Any, ...], dict[str, Any]]
) -> None:
    assert fingerprint("train", *a) != fingerprint("train", *b)


def test_fingerprint_differs_when_the_task_name_differs() -> None:
    assert fingerprint("train", (1,), {}) != fingerprint("evaluate", (1,), {})


def test_values_that_compare_equal_but_differ_in_type_differ() -> None:
    values: list[Any] = [1, 1.0, "1", True, Decimal(1), b"1"]
    prints = {fingerprint("train", (v,), {}) for v in values}
    assert len(prints) == len(values)


def test_futures_are_fingerprinted_by_key() -> None:
    assert fingerprint("score", (_future("train-0"),), {}) == fingerprint(
        "score", (_future("train-0"),), {}
    )
    assert fingerprint("score", (_future("train-0"),), {}) != fingerprint(
        "score", (_future("train-1"),), {}
    )
    assert fingerprint("score", (_future("train-0"),), {}) != fingerprint(
        "score", ("<future train-0>",), {}
    )


def test_futures_inside_other_objects_are_fingerprinted_by_key() -> None:
    # a dataclass holding a future goes through the pickle path
    @dataclass
    class Holder:
        upstream: Any

    a = fingerprint("score", (Holder(_future("train-0")),), {})
    assert a == fingerprint("score", (Holder(_future("train-0")),), {})
    assert a != fingerprint("score", (Holder(_future("train-1")),), {})


@pytest.mark.parametrize("kind", [set, frozenset])
def test_sets_in_different_insertion_orders_give_the_same_fingerprint(kind: type) -> None:
    # 1 and 9 share a slot in a small set's table, so insertion order decides iteration order
    a, b = kind([1, 9]), kind([9, 1])
    assert list(a) != list(b)
    assert fingerprint("train", (a,), {}) == fingerprint("train", (b,), {})


def test_dict_key_order_is_part_of_the_fingerprint() -> None:
    """Dicts are encoded in insertion order, as the flow body built them: equal dicts with a
    different key order fingerprint differently (a deterministic body builds them the same way
    on replay). The same holds for keyword arguments."""
    assert fingerprint("train", ({"a": 1, "b": 2},), {}) != fingerprint(
        "train", ({"b": 2, "a": 1},), {}
    )
    assert fingerprint("train", (), {"a": 1, "b": 2}) != fingerprint("train", (), {"b": 2, "a": 1})


def test_an_unpicklable_argument_does_not_raise() -> None:
    lock = threading.Lock()
    first = fingerprint("train", (lock,), {})
    assert fingerprint("train", (lock,), {}) == first
    assert len(first) == 16
    assert first != fingerprint("train", (lock, 1), {})
