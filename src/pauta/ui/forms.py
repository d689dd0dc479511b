"""The trigger form, generated from a flow's parameter schema (JSON Schema from pydantic).

Each parameter gets the widget of its type: a select for ``Literal`` and ``Enum``, a checkbox
for ``bool``, number inputs with the bounds of ``Field(ge=..., le=...)``, date and
datetime-local pickers, repeatable rows for ``list[X]``, a fieldset per nested pydantic model
(its fields named ``model.field``), and a JSON text area for anything else. The constraint
attributes let the browser catch the plain mistakes; the server validates everything again
(``pauta.ui.form_values``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# how each kind of field is shown
TEXT, NUMBER, CHECKBOX, SELECT = "text", "number", "checkbox", "select"
DATE, DATETIME, JSON, LIST, GROUP = "date", "datetime", "json", "list", "group"
SCALARS = frozenset({TEXT, NUMBER, CHECKBOX, SELECT, DATE, DATETIME})
# a model nested deeper than this (or in itself) is given as JSON
MAX_DEPTH = 4
_PYTHON_NAMES = {"number": "float", "integer": "int", "boolean": "bool", "string": "str"}
_FORMATS = {"date-time": "datetime"}


@dataclass(slots=True)
class FormField:
    """One widget of the form; a GROUP holds its fields' widgets, a LIST its rows' widget."""

    name: str  # what the browser posts: dotted for a nested model's field ("optimizer.lr")
    label: str
    kind: str
    type_label: str
    required: bool  # marked as required: the schema requires it
    nullable: bool = False  # may be left empty, for None
    value: str = ""
    rows: list[str] = field(default_factory=list)  # a LIST's values, one input each
    options: list[tuple[str, str]] = field(default_factory=list)  # (posted value, shown text)
    choices: dict[str, Any] = field(default_factory=dict)  # a select's posted text → JSON value
    attrs: dict[str, str] = field(default_factory=dict)  # HTML constraints: min, max, pattern…
    description: str = ""
    error: str | None = None
    children: list[FormField] = field(default_factory=list)
    item: FormField | None = None
    number_type: str = ""  # "integer" or "number"
    takes_text: bool = False  # a JSON field whose type accepts a plain string
    zone: str = ""  # the time zone a DATETIME is read in

    @property
    def id(self) -> str:
        """The element id's suffix: ``param-ID``, ``help-ID``, ``error-ID``."""
        return self.name.replace(".", "-")

    def shown(self, value: Any) -> str:
        """A default or a list's item as this widget shows it."""
        if value is None:
            return ""
        if self.kind == CHECKBOX:
            return "true" if value is True else "false"
        if self.kind == DATETIME and isinstance(value, str):
            return local_datetime(value, self.zone)
        return _text(value)

    def walk(self) -> list[FormField]:
        """This widget and every widget inside it."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


def form_fields(
    schema: Mapping[str, Any] | None,
    posted: Mapping[str, Sequence[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    zone: str = "UTC",
) -> list[FormField]:
    """One widget per parameter, prefilled with what was ``posted`` (kept when the server
    refused it) or else the defaults, with ``errors`` (by field name) next to their fields."""
    root = _Builder(dict((schema or {}).get("$defs") or {}), zone)
    fields = root.fields(schema or {}, "", required_chain=True, default=None, depth=0, seen=())
    for widget in (w for f in fields for w in f.walk()):
        if posted is not None and widget.name in posted:
            _fill(widget, list(posted[widget.name]))
        if errors and widget.name in errors:
            widget.error = errors[widget.name]
    return fields


def _fill(widget: FormField, values: list[str]) -> None:
    if widget.kind == GROUP:
        return
    if widget.kind == LIST:
        widget.rows = [v for v in values if v.strip()]
    elif widget.kind == CHECKBOX:
        widget.value = "true" if "true" in values else "false"
    else:
        widget.value = values[-1] if values else ""


def _text(value: Any) -> str:
    """A JSON value as a form shows it: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Builder:
    """Reads the schema's ``$defs`` (nested models, enums) while building widgets."""

    def __init__(self, defs: dict[str, Any], zone: str) -> None:
        self.defs = defs
        self.zone = zone

    def resolve(self, prop: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The property with its ``$ref`` followed (its own keys win) and the name referred to."""
        ref = prop.get("$ref")
        all_of = prop.get("allOf") or ()
        if ref is None and len(all_of) == 1:
            ref = all_of[0].get("$ref")
        if not isinstance(ref, str):
            return dict(prop), None
        name = ref.rsplit("/", 1)[-1]
        own = {k: v for k, v in prop.items() if k not in ("$ref", "allOf")}
        return {**self.defs.get(name, {}), **own}, name

    def variant(self, prop: Mapping[str, Any]) -> tuple[dict[str, Any], bool, str | None]:
        """The non-null variant of an ``X | None`` property (resolved), whether null is allowed,
        and the model or enum it refers to."""
        options = prop.get("anyOf") or prop.get("oneOf")
        outer = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
        if not options:
            resolved, ref = self.resolve(prop)
            return resolved, resolved.get("type") == "null", ref
        real = [o for o in options if o.get("type") != "null"]
        nullable = len(real) < len(options)
        if len(real) != 1:
            return {**outer, "anyOf": real}, nullable, None
        resolved, ref = self.resolve(real[0])
        return {**resolved, **outer}, nullable, ref

    def label(self, prop: Mapping[str, Any]) -> str:
        variant, nullable, ref = self.variant(prop)
        if "anyOf" in variant:
            kind = " | ".join(self.label(v) for v in variant["anyOf"])
        elif ref is not None:
            kind = str(variant.get("title") or ref)
        elif "const" in variant:
            kind = f"Literal[{json.dumps(variant['const'])}]"
        elif "enum" in variant:
            kind = f"Literal[{', '.join(json.dumps(v) for v in variant['enum'])}]"
        elif variant.get("type") == "array":
            kind = f"list[{self.label(variant.get('items') or {})}]"
        elif variant.get("type") == "object" and "additionalProperties" in variant:
            values = variant["additionalProperties"]
            kind = f"dict[str, {self.label(values) if isinstance(values, dict) else 'any'}]"
        else:
            kind = str(variant.get("format") or variant.get("type") or "any")
            kind = _FORMATS.get(kind, _PYTHON_NAMES.get(kind, kind))
        return f"{kind} | None" if nullable else kind

    def fields(
        self,
        model: Mapping[str, Any],
        prefix: str,
        *,
        required_chain: bool,
        default: Any,
        depth: int,
        seen: tuple[str, ...],
    ) -> list[FormField]:
        properties: dict[str, Any] = dict(model.get("properties") or {})
        required = set(model.get("required") or ())
        found = []
        for key, prop in properties.items():
            own_default = prop.get("default")
            if isinstance(default, Mapping) and key in default:
                own_default = default[key]
            found.append(
                self.widget(
                    f"{prefix}{key}",
                    key,
                    prop,
                    required=key in required,
                    required_chain=required_chain,
                    default=own_default,
                    depth=depth,
                    seen=seen,
                )
            )
        return found

    def widget(
        self,
        name: str,
        label: str,
        prop: Mapping[str, Any],
        *,
        required: bool,
        required_chain: bool,
        default: Any,
        depth: int,
        seen: tuple[str, ...],
    ) -> FormField:
        variant, nullable, ref = self.variant(prop)
        widget = FormField(
            name=name,
            label=label,
            kind=JSON,
            type_label=self.label(prop),
            required=required,
            nullable=nullable,
            description=str(prop.get("description") or variant.get("description") or ""),
        )
        # the browser may insist only where nothing above the field may be left empty
        must = required and not nullable and required_chain
        kind = variant.get("type")
        if kind == "object" and "properties" in variant and depth < MAX_DEPTH and ref not in seen:
            widget.kind = GROUP
            widget.children = self.fields(
                variant,
                f"{name}.",
                required_chain=required_chain and not nullable,
                default=default,
                depth=depth + 1,
                seen=(*seen, ref) if ref else seen,
            )
            return widget
        if kind == "array" and isinstance(variant.get("items"), dict):
            item = self.widget(
                name, label, variant["items"], required=True, required_chain=False,
                default=None, depth=depth, seen=seen,
            )  # fmt: skip
            if item.kind in SCALARS:
                widget.kind, widget.item = LIST, item
                if item.kind == CHECKBOX:  # a row of a list is a choice, not a tick box
                    item.kind, item.options = SELECT, [("true", "true"), ("false", "false")]
                    item.choices = {"true": True, "false": False}
                widget.rows = [item.shown(v) for v in default] if isinstance(default, list) else []
                return widget
        if self.scalar(widget, variant, must):
            widget.value = widget.shown(default)
            return widget
        widget.takes_text = _takes_text(variant, self)
        widget.value = "" if default is None else json.dumps(default)
        return widget

    def scalar(self, widget: FormField, variant: Mapping[str, Any], must: bool) -> bool:
        """Make ``widget`` the scalar widget of ``variant``; False when it has none."""
        kind = variant.get("type")
        if must:
            widget.attrs["required"] = ""
        if "enum" in variant or "const" in variant:
            values = list(variant["enum"]) if "enum" in variant else [variant["const"]]
            names = variant.get("x-enum-names") or []
            widget.kind = SELECT
            widget.choices = {_text(v): v for v in values}
            widget.options = [
                (_text(v), str(names[i]) if i < len(names) else _text(v))
                for i, v in enumerate(values)
            ]
            if widget.nullable:
                widget.options.insert(0, ("", "(none)"))
            elif must:
                widget.options.insert(0, ("", "(choose)"))
        elif kind == "boolean":
            if widget.nullable:
                widget.kind = SELECT
                widget.options = [("", "(none)"), ("true", "true"), ("false", "false")]
                widget.choices = {"true": True, "false": False}
            else:
                widget.kind = CHECKBOX
                widget.attrs.pop("required", None)  # unticked is a value too: false
        elif kind in ("integer", "number"):
            widget.kind, widget.number_type = NUMBER, kind
            widget.attrs.update(_number_bounds(variant, kind))
        elif kind == "string" and variant.get("format") == "date":
            widget.kind = DATE
        elif kind == "string" and variant.get("format") == "date-time":
            widget.kind, widget.zone = DATETIME, self.zone
        elif kind == "string":
            widget.kind = TEXT
            widget.attrs.update(_text_bounds(variant))
        else:
            widget.attrs.pop("required", None)
            return False
        return True


def local_datetime(value: str, zone: str) -> str:
    """An ISO datetime as a datetime-local input shows it: in ``zone``, without an offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds" if moment.second else "minutes")


def _number_bounds(variant: Mapping[str, Any], kind: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    low, high = variant.get("minimum"), variant.get("maximum")
    # an exclusive bound: the next integer, or the bound itself (the server refuses it)
    if low is None and "exclusiveMinimum" in variant:
        low = variant["exclusiveMinimum"] + (1 if kind == "integer" else 0)
    if high is None and "exclusiveMaximum" in variant:
        high = variant["exclusiveMaximum"] - (1 if kind == "integer" else 0)
    step = variant.get("multipleOf")
    if step:
        # the browser counts steps from min, pydantic from zero: start at a multiple of the step
        if low is not None:
            low = math.ceil(low / step - 1e-9) * step
        if high is not None:
            high = math.floor(high / step + 1e-9) * step
    if low is not None:
        attrs["min"] = _number(low)
    if high is not None:
        attrs["max"] = _number(high)
    attrs["step"] = _number(step) if step else ("1" if kind == "integer" else "any")
    return attrs


def _text_bounds(variant: Mapping[str, Any]) -> dict[str, str]:
    attrs = {}
    if "maxLength" in variant:
        attrs["maxlength"] = str(variant["maxLength"])
    if "minLength" in variant:
        attrs["minlength"] = str(variant["minLength"])
    pattern = variant.get("pattern")
    if isinstance(pattern, str):
        # pydantic searches for the pattern, HTML matches it whole: pad the unanchored ends
        start = "" if pattern.startswith("^") else ".*"
        end = "" if pattern.endswith("$") and not pattern.endswith("\\$") else ".*"
        attrs["pattern"] = f"{start}(?:{pattern}){end}"
    return attrs


def _takes_text(variant: Mapping[str, Any], builder: _Builder) -> bool:
    """Whether a plain string is one of the values the type allows (then text that is not
    JSON is sent as it is, rather than refused)."""
    if variant.get("type") == "string" or not variant:
        return True
    return any(_takes_text(builder.resolve(v)[0], builder) for v in variant.get("anyOf") or ())
