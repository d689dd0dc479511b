"""A posted trigger form read back into typed values, and the server's errors put back next
to their fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from ui_forms import tuned

from pauta.core.errors import ParameterError
from pauta.definitions.params import ParameterSchema
from pauta.ui.form_values import FormValues, errors_by_field, params_from_form, zoned_datetime
from pauta.ui.forms import form_fields

FIELDS = form_fields(tuned.parameters.json_schema())
FILLED = {
    "mode": ["full"], "color": ["blue"], "dry_run": ["false"], "epochs": [" 5 "],
    "start": ["2026-03-04"], "at": ["2026-03-04T10:30"], "tags": ["", "a", " ", "b"],
    "sizes": ["", "7"], "optimizer.name": ["sgd"], "optimizer.lr": ["0.5"],
    "optimizer.warmup.steps": ["3"], "optimizer.warmup.linear": ["false", "true"],
    "code": ["XYZ"], "limit": [""], "extra": ['{"a": 1}'],
}  # fmt: skip


def test_a_filled_form_gives_typed_values() -> None:
    read = params_from_form(FIELDS, FILLED)
    assert read.errors == {}
    assert read.params == {
        "mode": "full", "color": "blue", "dry_run": False, "epochs": 5, "start": "2026-03-04",
        "at": "2026-03-04T10:30:00+00:00", "tags": ["a", "b"], "sizes": [7],
        "optimizer": {"name": "sgd", "lr": 0.5, "warmup": {"steps": 3, "linear": True}},
        "code": "XYZ", "limit": None, "extra": {"a": 1},
    }  # fmt: skip
    # and they pass the flow's own validation, as the API's would
    values = tuned.parameters.validate_input(read.params)
    assert values["at"] == datetime.fromisoformat("2026-03-04T10:30:00+00:00")
    assert values["start"] == date(2026, 3, 4)
    assert values["optimizer"].warmup.steps == 3


def test_empty_fields_keep_defaults_or_give_none() -> None:
    read = params_from_form(FIELDS, {"epochs": [""], "at": [""], "tags": [""], "sizes": [""]})
    # a list with no row is empty (None where the type allows it); other empty fields are
    # left to their defaults, None where the type allows it
    assert read.params == {"at": None, "tags": [], "sizes": None}
    # an unticked checkbox posts only its hidden "false"
    assert params_from_form(FIELDS, {"dry_run": ["false"]}).params == {"dry_run": False}


class Limits(BaseModel):
    low: int = 0
    strict: bool = False


def test_an_optional_model_left_empty_is_none() -> None:
    def f(limits: Limits | None = None, must: Limits | None = None) -> None: ...

    fields = form_fields(ParameterSchema(f, "f").json_schema())
    posted = {"limits.low": [""], "limits.strict": ["false"], "must.low": ["2"]}
    assert params_from_form(fields, posted).params == {"limits": None, "must": {"low": 2}}


def test_text_that_cannot_be_read_is_passed_on_or_refused() -> None:
    # a number field with text: the one validation says what is wrong
    read = params_from_form(FIELDS, {"epochs": ["many"], "mode": ["slow"]})
    assert read.params == {"epochs": "many", "mode": "slow"}
    with pytest.raises(ParameterError) as caught:
        tuned.parameters.validate_input(read.params)
    errors = errors_by_field(FIELDS, caught.value.errors)
    assert "valid integer" in errors["epochs"]
    assert "'fast' or 'full'" in errors["mode"]
    # JSON that is not JSON is refused before anything is validated, saying how to write it
    read = params_from_form(FIELDS, {"extra": ["{a: 1}"]})
    assert "extra" not in read.params
    assert read.errors["extra"].startswith("not valid JSON (")


def test_server_errors_go_to_the_deepest_field_they_name() -> None:
    bad = {**FILLED, "optimizer.lr": ["0"], "sizes": ["", "1", "x"], "extra": ['{"a": "x"}']}
    with pytest.raises(ParameterError) as caught:
        tuned.parameters.validate_input(params_from_form(FIELDS, bad).params)
    errors = errors_by_field(FIELDS, caught.value.errors)
    assert errors == {
        "optimizer.lr": "Input should be greater than 0",
        "sizes": "item 2: Input should be a valid integer, unable to parse string as an integer",
        "extra": "a: Input should be a valid integer, unable to parse string as an integer",
    }


def test_a_union_takes_text_that_is_not_json() -> None:
    def f(pick: int | str = 1, raw: Any = None) -> None: ...

    fields = form_fields(ParameterSchema(f, "f").json_schema())
    read = params_from_form(fields, {"pick": ["hello"], "raw": ["[1, 2]"]})
    assert read.params == {"pick": "hello", "raw": [1, 2]}


@pytest.mark.parametrize(
    ("raw", "zone", "expected"),
    [
        ("2026-07-01T12:00", "UTC", "2026-07-01T12:00:00+00:00"),
        ("2026-07-01T12:00", "America/Argentina/Buenos_Aires", "2026-07-01T12:00:00-03:00"),
        ("2026-03-29T02:30", "Europe/Madrid", "2026-03-29T02:30:00+01:00"),  # in the DST gap
        ("2026-07-01T12:00+02:00", "UTC", "2026-07-01T12:00:00+02:00"),
        ("tomorrow", "UTC", "tomorrow"),
    ],
)
def test_a_datetime_is_read_in_the_flows_zone(raw: str, zone: str, expected: str) -> None:
    assert zoned_datetime(raw, zone) == expected


def test_a_post_without_the_fields_takes_every_default() -> None:
    # the flows page's Trigger button posts no field at all
    assert params_from_form(FIELDS, {}) == FormValues({}, {})
