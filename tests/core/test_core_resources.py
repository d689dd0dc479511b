"""Resources: memory sizes, validation, equality and hashing, and the packing arithmetic."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from pauta.core.resources import Resources, format_memory, parse_memory

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0),
        (0, 0),
        (1536, 1536),
        (2.9, 2),
        ("1536", 1536),
        ("512KiB", 512 * KiB),
        ("512MiB", 512 * MiB),
        ("2GiB", 2 * GiB),
        ("2gib", 2 * GiB),
        (" 2 GiB ", 2 * GiB),
        ("2Gi", 2 * GiB),
        ("4GB", 4 * 1000**3),
        ("512MB", 512 * 1000**2),
        ("1.5G", 1_500_000_000),
        ("1.5GiB", 3 * GiB // 2),
        ("0.5KiB", 512),
        ("100b", 100),
        ("1TiB", 1024**4),
        # a decimal size that is a whole number of bytes comes out exact
        pytest.param("2.01MB", 2_010_000, id="2.01MB exact"),
    ],
)
def test_parse_memory(value: Any, expected: int) -> None:
    assert parse_memory(value) == expected


@pytest.mark.parametrize("text", ["lots", "2 GiBs", "GiB", "1e9", "-1GiB", "1,5GiB", ""])
def test_parse_memory_rejects_bad_strings_and_says_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read memory size .*'2GiB'"):
        parse_memory(text)


@pytest.mark.parametrize("value", [-1, -0.5])
def test_parse_memory_rejects_negative_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_memory(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_memory_rejects_bools(value: bool) -> None:
    with pytest.raises(ValueError, match="memory must be a size such as '2GiB'"):
        parse_memory(value)


@pytest.mark.parametrize(
    ("n_bytes", "expected"),
    [
        (0, "0B"),
        (512, "512B"),
        (1023, "1023B"),
        (1024, "1.0KiB"),
        (1536, "1.5KiB"),
        (512 * MiB, "512.0MiB"),
        (2 * GiB, "2.0GiB"),
        (3 * 1024**4, "3.0TiB"),
        (2048 * 1024**4, "2048.0TiB"),
    ],
)
def test_format_memory(n_bytes: int, expected: str) -> None:
    assert format_memory(n_bytes) == expected


def test_resources_defaults_and_normalization() -> None:
    default = Resources()
    assert (default.cpus, default.memory, default.gpus, dict(default.custom)) == (1.0, 0, 0, {})
    given = Resources(cpus=2, memory="2GiB", gpus=1, custom={"db": 1})
    assert given.cpus == 2.0
    assert isinstance(given.cpus, float)
    assert given.memory == 2 * GiB
    assert dict(given.custom) == {"db": 1}


def test_resources_copies_custom_and_cannot_be_changed() -> None:
    custom = {"db": 1}
    res = Resources(custom=custom)
    custom["db"] = 5
    assert res.custom["db"] == 1
    with pytest.raises(TypeError):
        res.custom["db"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpus": -1}, "cpus must be a number >= 0"),
        ({"cpus": "2"}, "cpus must be a number >= 0"),
        ({"cpus": True}, "cpus must be a number >= 0"),
        ({"gpus": 1.5}, "gpus must be a whole number >= 0"),
        ({"gpus": -1}, "gpus must be a whole number >= 0"),
        ({"gpus": True}, "gpus must be a whole number >= 0"),
        ({"memory": "lots"}, "cannot read memory size"),
        ({"memory": -1}, "memory cannot be negative"),
        ({"custom": {"db": -1}}, "custom resource 'db' must be a number >= 0"),
        ({"custom": {"db": "1"}}, "custom resource 'db' must be a number >= 0"),
        ({"custom": {"db": True}}, "custom resource 'db' must be a number >= 0"),
    ],
)
def test_resources_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Resources(**kwargs)


def test_equal_resources_hash_equal_whatever_the_custom_order() -> None:
    a = Resources(cpus=2, memory="1GiB", custom={"db": 1, "license": 2})
    b = Resources(cpus=2.0, memory=GiB, custom={"license": 2, "db": 1})
    assert a == b
    assert hash(a) == hash(b)
    assert {a: "request"}[b] == "request"


@pytest.mark.parametrize(
    "other",
    [
        Resources(cpus=3),
        Resources(cpus=2, memory=1),
        Resources(cpus=2, gpus=1),
        Resources(cpus=2, custom={"db": 1}),
    ],
    ids=["cpus", "memory", "gpus", "custom"],
)
def test_resources_differing_in_one_field_are_not_equal(other: Resources) -> None:
    assert Resources(cpus=2) != other


def test_resources_are_not_equal_to_other_types() -> None:
    assert Resources() != {"cpus": 1.0, "memory": 0, "gpus": 0, "custom": {}}


FREE = Resources(cpus=4, memory="8GiB", gpus=1, custom={"db": 2})


@pytest.mark.parametrize(
    ("request_", "fits"),
    [
        (Resources(), True),
        (Resources(cpus=4, memory="8GiB", gpus=1, custom={"db": 2}), True),
        (Resources(cpus=4.5), False),
        (Resources(memory="9GiB"), False),
        (Resources(gpus=2), False),
        (Resources(custom={"db": 3}), False),
        (Resources(custom={"license": 1}), False),
        # asking for zero of a resource the worker lacks is no request at all
        (Resources(custom={"license": 0}), True),
    ],
    ids=["default", "exact", "cpus", "memory", "gpus", "custom", "unknown custom", "zero"],
)
def test_fits_in(request_: Resources, fits: bool) -> None:
    assert request_.fits_in(FREE) is fits


def test_an_exact_fit_of_fractional_cpus_is_not_refused_for_float_noise() -> None:
    assert Resources(cpus=0.1 + 0.2).fits_in(Resources(cpus=0.3))


def test_minus_and_plus_round_trip() -> None:
    used = Resources(cpus=1.5, memory="2GiB", gpus=1, custom={"db": 1})
    left = FREE.minus(used)
    assert left == Resources(cpus=2.5, memory="6GiB", gpus=0, custom={"db": 1})
    assert left.plus(used) == FREE
    assert hash(left.plus(used)) == hash(FREE)


def test_minus_never_goes_negative() -> None:
    big = Resources(cpus=8, memory="16GiB", gpus=4, custom={"db": 5, "license": 1})
    left = FREE.minus(big)
    assert (left.cpus, left.memory, left.gpus) == (0.0, 0, 0)
    assert dict(left.custom) == {"db": 0, "license": 0}


def test_plus_adds_custom_resources_from_both_sides() -> None:
    total = Resources(cpus=1, custom={"db": 1}).plus(Resources(cpus=2, custom={"license": 3}))
    assert total == Resources(cpus=3, custom={"db": 1, "license": 3})


@pytest.mark.parametrize(
    "res",
    [Resources(), FREE, FREE.minus(Resources(cpus=1))],
    ids=["default", "full", "from arithmetic"],
)
def test_pickle_round_trip(res: Resources) -> None:
    back = pickle.loads(pickle.dumps(res))
    assert back == res
    assert hash(back) == hash(res)
    assert dict(back.custom) == dict(res.custom)


def test_to_dict() -> None:
    assert FREE.to_dict() == {"cpus": 4.0, "memory": 8 * GiB, "gpus": 1, "custom": {"db": 2}}


@pytest.mark.parametrize(
    ("res", "text"),
    [
        (Resources(), "cpus=1"),
        (Resources(cpus=0.5, memory="512MiB"), "cpus=0.5, memory=512.0MiB"),
        (
            Resources(cpus=2, memory="2GiB", gpus=1, custom={"license": 1, "db": 2.5}),
            "cpus=2, memory=2.0GiB, gpus=1, db=2.5, license=1",
        ),
    ],
)
def test_describe(res: Resources, text: str) -> None:
    assert res.describe() == text
