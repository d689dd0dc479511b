"""Flow parameters: the signature is the schema; values are coerced, validated and explained.

No ``from __future__ import annotations`` here: the flows below are defined inside tests, and
their hints must be real objects, as in most user files.
"""

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import pytest

import pauta
from pauta.core.errors import DefinitionError, ParameterError

if TYPE_CHECKING:
    from decimal import Decimal


@pauta.flow
def train(
    epochs: int,
    lr: float = 0.01,
    shuffle: bool = False,
    day: date | None = None,
    since: datetime | None = None,
    sizes: list[int] | None = None,
    mode: Literal["fast", "full"] = "fast",
) -> None:
    """Every kind of parameter the CLI passes as strings."""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("epochs", "3", 3),
        ("lr", "0.5", 0.5),
        ("lr", "2", 2.0),
        ("shuffle", "true", True),
        ("shuffle", "false", False),
        ("shuffle", "1", True),
        ("day", "2026-01-05", date(2026, 1, 5)),
        ("day", "null", None),
        ("since", "2026-01-05T10:30:00", datetime(2026, 1, 5, 10, 30)),
        ("sizes", "[1, 2, 3]", [1, 2, 3]),
        ("sizes", '["4", 5]', [4, 5]),
        ("mode", "full", "full"),
    ],
)
def test_values_from_strings_are_coerced(name: str, text: str, expected: Any) -> None:
    raw = {"epochs": "1", name: text}
    values = train.parameters.validate(raw, from_strings=True)
    assert values[name] == expected
    assert type(values[name]) is type(expected)


def test_defaults_fill_in_what_is_not_given() -> None:
    assert train.parameters.validate({"epochs": 5}) == {
        "epochs": 5,
        "lr": 0.01,
        "shuffle": False,
        "day": None,
        "since": None,
        "sizes": None,
        "mode": "fast",
    }


def test_a_str_parameter_keeps_a_json_looking_string() -> None:
    @pauta.flow
    def tag(label: str) -> None: ...

    assert tag.parameters.validate({"label": "[1]"}, from_strings=True) == {"label": "[1]"}
    assert tag.parameters.validate({"label": "123"}, from_strings=True) == {"label": "123"}


def test_an_unknown_parameter_lists_what_the_flow_takes() -> None:
    with pytest.raises(ParameterError) as caught:
        train.parameters.validate({"epochs": 1, "epoch": 2})
    message = str(caught.value)
    assert "unknown parameter 'epoch'" in message
    assert "'train'" in message
    assert "epochs (int)" in message
    assert "mode (Literal['fast', 'full'])" in message
    assert caught.value.errors == [{"param": "epoch", "error": "unknown parameter"}]


def test_several_unknown_parameters_are_all_named() -> None:
    with pytest.raises(ParameterError, match="unknown parameters 'a', 'b'"):
        train.parameters.validate({"a": 1, "b": 2})


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(ParameterError) as caught:
        train.parameters.validate({"lr": 0.1})
    assert "parameter 'epochs' (int) is required but was not given" in str(caught.value)
    assert caught.value.errors[0]["param"] == "epochs"


@pytest.mark.parametrize(
    ("raw", "expected_text"),
    [
        ({"epochs": "many"}, "parameter 'epochs': expected int, got 'many'"),
        (
            {"epochs": 1, "mode": "slow"},
            "parameter 'mode': expected Literal['fast', 'full'], got 'slow'",
        ),
        ({"epochs": 1, "day": "soon"}, "parameter 'day': expected date | None, got 'soon'"),
        (
            {"epochs": 1, "sizes": [1, "x"]},
            "parameter 'sizes'[1]: expected list[int] | None, got [1, 'x']",
        ),
    ],
)
def test_a_wrong_value_names_parameter_expected_type_and_value(
    raw: dict[str, Any], expected_text: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        train.parameters.validate(raw)
    assert expected_text in str(caught.value)


def test_every_bad_parameter_is_reported_at_once() -> None:
    with pytest.raises(ParameterError) as caught:
        train.parameters.validate({"lr": "fast", "shuffle": "maybe"})
    assert {e["param"] for e in caught.value.errors} == {"epochs", "lr", "shuffle"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(*args): ...", r"\*args / \*\*args cannot be flow parameters"),
        ("def f(**kwargs): ...", r"\*kwargs / \*\*kwargs cannot be flow parameters"),
        ("def f(a, /, b): ...", "parameter 'a' is positional-only"),
    ],
)
def test_parameters_that_cannot_be_named_are_refused(source: str, message: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    flow = pauta.flow(namespace["f"])
    with pytest.raises(DefinitionError, match=message):
        _ = flow.parameters


def test_to_json_gives_json_values() -> None:
    values = train.parameters.validate(
        {"epochs": 2, "day": date(2026, 1, 5), "since": datetime(2026, 1, 5, 10), "sizes": [1]}
    )
    stored = train.parameters.to_json(values)
    assert stored["day"] == "2026-01-05"
    assert stored["since"] == "2026-01-05T10:00:00"
    assert stored["sizes"] == [1]
    assert json.loads(json.dumps(stored)) == stored


def test_to_json_of_plain_values_is_a_copy() -> None:
    values = {"epochs": 2, "lr": 0.1}
    stored = train.parameters.to_json(values)
    assert stored == values
    assert stored is not values


def test_json_schema_has_the_properties_and_required_list() -> None:
    schema = train.parameters.json_schema()
    assert set(schema["properties"]) == {
        "epochs",
        "lr",
        "shuffle",
        "day",
        "since",
        "sizes",
        "mode",
    }
    assert schema["required"] == ["epochs"]
    assert schema["properties"]["epochs"]["type"] == "integer"
    assert schema["properties"]["lr"]["default"] == 0.01
    assert schema["properties"]["mode"]["enum"] == ["fast", "full"]


def test_a_flow_without_parameters() -> None:
    @pauta.flow
    def nightly() -> None: ...

    assert nightly.parameters.validate({}) == {}
    schema = nightly.parameters.json_schema()
    assert schema["properties"] == {}
    assert not schema.get("required")
    with pytest.raises(ParameterError, match=r"unknown parameter 'x'.*it takes: nothing"):
        nightly.parameters.validate({"x": 1})


def test_plain_defaults_fast_path_returns_the_defaults() -> None:
    @pauta.flow
    def report(region: str = "eu", top: int = 10, ratio: float = 0.5, dry: bool = True) -> None: ...

    assert report.parameters.plain_defaults
    assert report.parameters.validate({}) == {
        "region": "eu",
        "top": 10,
        "ratio": 0.5,
        "dry": True,
    }


@pytest.mark.parametrize(
    "source",
    [
        "def f(day: date = date(2026, 1, 1)): ...",
        "def f(sizes: list = []): ...",
        "def f(n: int): ...",
    ],
    ids=["date default", "list default", "required"],
)
def test_plain_defaults_is_false_when_validation_is_needed(source: str) -> None:
    namespace: dict[str, Any] = {"date": date}
    exec(source, namespace)
    assert not pauta.flow(namespace["f"]).parameters.plain_defaults


def test_a_parameter_without_a_hint_takes_any_value() -> None:
    @pauta.flow
    def loose(thing, count: int = 1) -> None:  # type: ignore[no-untyped-def]
        ...

    assert loose.parameters.validate({"thing": "7"}, from_strings=True)["thing"] == "7"
    assert loose.parameters.parameters[0].type_name == "any"


def test_one_hint_that_cannot_be_resolved_leaves_the_others_typed() -> None:
    # a type imported only for checking is common in user files; the other parameters
    # must still be coerced from CLI strings
    @pauta.flow
    def priced(count: int, price: "Decimal | None" = None) -> None: ...

    assert priced.parameters.validate({"count": "3"}, from_strings=True)["count"] == 3


def test_parameters_may_have_names_pydantic_uses_itself() -> None:
    @pauta.flow
    def odd_names(json: str, schema: int = 1, _private: bool = False) -> None:
        return None

    values = odd_names.parameters.validate(
        {"json": "x", "schema": "2", "_private": "true"}, from_strings=True
    )
    assert values == {"json": "x", "schema": 2, "_private": True}
    assert odd_names.parameters.to_json(values) == values
    assert set(odd_names.parameters.json_schema()["properties"]) == {"json", "schema", "_private"}


def test_annotated_field_bounds_and_descriptions_hold() -> None:
    from typing import Annotated

    from pydantic import Field

    from pauta import flow

    @flow
    def sized(rows: Annotated[int, Field(ge=1, description="How many rows")] = 10) -> None: ...

    schema = sized.parameters.json_schema()["properties"]["rows"]
    assert (schema["description"], schema["minimum"]) == ("How many rows", 1)
    with pytest.raises(ParameterError, match=r"'rows': expected int, got 0 \(input should be"):
        sized.parameters.validate_input({"rows": 0})
    assert sized.parameters.validate_input({}, {"rows": "3"}) == {"rows": 3}
