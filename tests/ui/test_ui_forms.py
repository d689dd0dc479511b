"""The trigger form's widgets, from a flow's parameter schema: one per type, with the
constraint attributes, defaults, descriptions and what was posted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import Field
from ui_forms import tuned

from pauta.definitions.params import ParameterSchema
from pauta.ui.forms import (
    CHECKBOX,
    DATE,
    DATETIME,
    GROUP,
    JSON,
    LIST,
    NUMBER,
    SELECT,
    TEXT,
    FormField,
    form_fields,
)
from pauta.ui.templating import templates


def widgets(fields: list[FormField]) -> dict[str, FormField]:
    return {w.name: w for f in fields for w in f.walk()}


def render(fields: list[FormField]) -> str:
    source = '{% from "params_form.html" import param_field %}'
    source += "{% for f in fields %}{{ param_field(f) }}{% endfor %}"
    return templates.env.from_string(source).render(fields=fields)


def test_each_type_gets_its_widget() -> None:
    found = widgets(form_fields(tuned.parameters.json_schema()))
    kinds = {name: w.kind for name, w in found.items()}
    assert kinds == {
        "mode": SELECT, "color": SELECT, "dry_run": CHECKBOX, "epochs": NUMBER, "start": DATE,
        "at": DATETIME, "tags": LIST, "sizes": LIST, "optimizer": GROUP,
        "optimizer.name": SELECT, "optimizer.lr": NUMBER, "optimizer.warmup": GROUP,
        "optimizer.warmup.steps": NUMBER, "optimizer.warmup.linear": CHECKBOX,
        "code": TEXT, "limit": NUMBER, "extra": JSON,
    }  # fmt: skip
    # an Enum posts its value and shows its name; a Literal its values
    assert found["color"].options == [("red", "RED"), ("green", "GREEN"), ("blue", "BLUE")]
    assert found["color"].value == "green"
    assert found["mode"].options == [("fast", "fast"), ("full", "full")]
    # Field bounds become the browser's constraints
    assert found["epochs"].attrs == {"min": "1", "max": "100", "step": "1"}
    assert found["optimizer.lr"].attrs == {"min": "0", "max": "1", "step": "any"}
    assert found["code"].attrs == {"maxlength": "3", "pattern": "(?:^[A-Z]{3}$)"}
    # a list's rows are its item's widget, prefilled with the default's items
    assert found["tags"].item is not None
    assert found["tags"].item.kind == TEXT
    assert found["tags"].rows == ["base"]
    assert found["sizes"].item is not None
    assert found["sizes"].item.kind == NUMBER
    # a nested model's fields take their defaults from the model's default
    assert found["optimizer.warmup.linear"].value == "true"
    assert found["optimizer"].description == "How the model learns."
    assert found["optimizer.lr"].description == "Learning rate"
    assert found["at"].zone == "UTC"
    assert found["at"].nullable
    assert found["extra"].value == "{}"


def test_required_and_optional_fields() -> None:
    def f(
        n: Annotated[int, Field(gt=0, multiple_of=5)],
        when: datetime,
        day: date | None = None,
        flag: bool | None = None,
        ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5,
    ) -> None: ...

    found = widgets(form_fields(ParameterSchema(f, "f").json_schema(), zone="Europe/Madrid"))
    assert found["n"].required
    assert found["n"].attrs == {"required": "", "min": "5", "step": "5"}
    assert found["when"].attrs == {"required": ""}
    assert found["when"].zone == "Europe/Madrid"
    assert not found["day"].required
    assert found["day"].attrs == {}
    # a bool that may be None is a choice of three, not a checkbox
    assert found["flag"].kind == SELECT
    assert [v for v, _ in found["flag"].options] == ["", "true", "false"]
    assert found["ratio"].attrs == {"min": "0", "max": "1", "step": "any"}
    html = render(form_fields(ParameterSchema(f, "f").json_schema(), zone="Europe/Madrid"))
    assert 'n<span class="hint">int · required</span>' in html
    assert 'id="param-n" name="n" type="number" value="" required min="5" step="5"' in html
    assert "time in Europe/Madrid" in html


def test_a_default_datetime_is_shown_in_the_flows_zone() -> None:
    def f(at: datetime = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) -> None: ...

    schema = ParameterSchema(f, "f").json_schema()
    assert widgets(form_fields(schema, zone="America/Argentina/Buenos_Aires"))["at"].value == (
        "2026-07-01T09:00"
    )


def test_posted_values_are_kept_with_their_errors() -> None:
    schema = tuned.parameters.json_schema()
    posted = {"epochs": ["500"], "tags": ["", "a", "", "b"], "dry_run": ["false"],
              "optimizer.lr": ["2"], "extra": ["{oops"]}  # fmt: skip
    found = widgets(form_fields(schema, posted, {"optimizer.lr": "too big", "extra": "no JSON"}))
    assert found["epochs"].value == "500"
    assert found["tags"].rows == ["a", "b"]
    assert found["dry_run"].value == "false"
    assert found["optimizer.lr"].value == "2"
    assert found["optimizer.lr"].error == "too big"
    assert found["extra"].value == "{oops"
    html = render(form_fields(schema, posted, {"optimizer.lr": "too big"}))
    # the message is tied to its field for screen readers
    assert 'aria-describedby="help-optimizer-lr error-optimizer-lr"' in html
    assert '<div class="error" id="error-optimizer-lr">too big</div>' in html


def test_a_list_renders_rows_and_a_template_for_more() -> None:
    html = render(form_fields(tuned.parameters.json_schema()))
    assert 'id="param-tags-0" name="tags" type="text" value="base"' in html
    assert 'id="param-tags-__N__" name="tags"' in html  # inside <template>: not posted
    assert "data-add-row" in html
    assert "data-remove-row" in html
    # the hidden empty value says the list was in the form, even with every row removed
    assert '<input type="hidden" name="tags" value="">' in html
    # a checkbox posts false when unticked
    assert '<input type="hidden" name="dry_run" value="false">' in html
    assert "onclick" not in html
    assert "<script" not in html


ATTACK = '"><script>alert(1)</script>'


def test_descriptions_defaults_and_posted_values_are_escaped() -> None:
    attack = ATTACK

    def f(
        x: Annotated[str, Field(description=f"help {ATTACK}")] = attack,
        y: list[str] = [attack],  # noqa: B006
        z: dict[str, Any] = {attack: 1},  # noqa: B006
    ) -> None: ...

    schema = ParameterSchema(f, "f").json_schema()
    html = render(form_fields(schema, {"y": [attack]}, {"x": attack}))
    assert "<script>" not in html
    assert 'value="&#34;&gt;&lt;script&gt;' in html
    assert "help &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_model_in_itself_or_a_union_is_given_as_json() -> None:
    def f(pick: int | str = 1, pairs: list[list[int]] | None = None) -> None: ...

    found = widgets(form_fields(ParameterSchema(f, "f").json_schema()))
    assert found["pick"].kind == JSON
    assert found["pick"].takes_text
    assert found["pick"].type_label == "int | str"
    assert found["pairs"].kind == JSON
    assert not found["pairs"].takes_text
