"""The trigger form, generated from a flow's parameter schema (JSON Schema from pydantic).

Inputs are plain text fields (never the browser's number inputs), so that whatever a person
types reaches the server, and the server's validation message (the same as the API's and the
CLI's) is shown next to the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# how each kind of field is shown
TEXT, DATE, SELECT, JSON = "text", "date", "select", "json"
_PYTHON_NAMES = {"number": "float", "integer": "int", "boolean": "bool", "string": "str"}


@dataclass(slots=True)
class FormField:
    name: str
    kind: str
    type_label: str
    required: bool
    value: str
    options: list[str] = field(default_factory=list)
    description: str = ""
    error: str | None = None
    # a value that is not valid JSON is sent as typed, and the server says what is wrong
    parse_json: bool = False


def _variant(prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null variant of an ``X | None`` property, and whether null is allowed."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if not options:
        return prop, prop.get("type") == "null"
    real = [o for o in options if o.get("type") != "null"]
    nullable = len(real) < len(options)
    return (real[0] if len(real) == 1 else {"anyOf": real}), nullable


def _label(variant: dict[str, Any], nullable: bool) -> str:
    if "anyOf" in variant:
        kind = " | ".join(_label(v, False) for v in variant["anyOf"])
    elif variant.get("type") == "array":
        kind = f"list[{_label(variant.get('items') or {}, False)}]"
    else:
        kind = str(variant.get("format") or variant.get("type") or "any")
        kind = _PYTHON_NAMES.get(kind, kind)
    return f"{kind} | None" if nullable else kind


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def form_fields(
    schema: Mapping[str, Any] | None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FormField]:
    """One field per parameter, prefilled with ``values`` (what was posted) or the default."""
    properties: dict[str, Any] = dict((schema or {}).get("properties") or {})
    required = set((schema or {}).get("required") or ())
    fields = []
    for name, prop in properties.items():
        variant, nullable = _variant(prop)
        kind, options, parse = TEXT, [], True
        if "enum" in variant:
            kind, options = SELECT, [_text(v) for v in variant["enum"]]
        elif variant.get("type") == "boolean":
            kind, options = SELECT, ["true", "false"]
        elif variant.get("type") == "string":
            parse = False
            kind = DATE if variant.get("format") == "date" else TEXT
        elif variant.get("type") in ("array", "object") or "anyOf" in variant:
            kind = JSON
        if kind == SELECT and (nullable or name not in required):
            options = ["", *options]
        default = _text(prop.get("default")) if name not in required else ""
        fields.append(
            FormField(
                name=name,
                kind=kind,
                type_label=_label(variant, nullable),
                required=name in required,
                value=(values or {}).get(name, default),
                options=options,
                description=str(prop.get("description") or ""),
                error=(errors or {}).get(name),
                parse_json=parse,
            )
        )
    return fields


def params_from_form(schema: Mapping[str, Any] | None, form: Mapping[str, str]) -> dict[str, Any]:
    """The parameters a posted form gives: empty fields are left out (their defaults apply),
    numbers, booleans, lists and objects are read as JSON, strings and dates as typed."""
    params: dict[str, Any] = {}
    for item in form_fields(schema):
        raw = form.get(item.name, "").strip()
        if raw == "":
            continue
        if item.parse_json:
            try:
                params[item.name] = json.loads(raw)
                continue
            except ValueError:
                pass
        params[item.name] = raw
    return params
