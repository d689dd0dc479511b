"""A posted trigger form read back into typed JSON values, by the widgets of the same schema
(``pauta.ui.forms``), and the server's validation errors put back next to their fields.

The values are validated once, where every run's parameters are (``trigger_run``): this module
only turns text into the JSON types the widgets stand for. What it cannot read (text in a
number field) is passed on as typed, so the one validation names what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pauta.ui.forms import CHECKBOX, DATETIME, GROUP, JSON, LIST, NUMBER, SELECT, FormField

Posted = Mapping[str, Sequence[str]]
_OMIT = object()  # the field was left to its default
_INT = re.compile(r"[+-]?[0-9]+")


@dataclass(slots=True)
class FormValues:
    """The parameters a form gives, and what could not even be read (field name → message)."""

    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def params_from_form(fields: Iterable[FormField], posted: Posted) -> FormValues:
    """Typed values for the posted form: a field left empty keeps its default (None where its
    type allows None), an unticked checkbox is false, a list is its filled-in rows, a nested
    model's fields make an object."""
    result = FormValues()
    for widget in fields:
        value = _value(widget, posted, result.errors)
        if value is not _OMIT:
            result.params[widget.name] = value
    return result


def _value(widget: FormField, posted: Posted, errors: dict[str, str]) -> Any:
    if widget.kind == GROUP:
        return _group(widget, posted, errors)
    if widget.name not in posted:
        return _OMIT  # not in the form at all (a hand-made post): the default applies
    values = list(posted[widget.name])
    if widget.kind == LIST:
        assert widget.item is not None
        rows = [v.strip() for v in values if v.strip()]
        if not rows:
            return None if widget.nullable else []
        items = []
        for i, row in enumerate(rows):
            item = _scalar(widget.item, row, errors, f"item {i + 1}: ")
            items.append(None if item is _OMIT else item)
        return items
    if widget.kind == CHECKBOX:
        # the form posts "false" from a hidden input, then "true" when ticked
        return "true" in values
    raw = values[-1].strip() if values else ""
    if raw == "":
        return None if widget.nullable else _OMIT
    return _scalar(widget, raw, errors, "")


def _group(widget: FormField, posted: Posted, errors: dict[str, str]) -> Any:
    if widget.nullable and _blank(widget, posted):
        return None
    values = {}
    for child in widget.children:
        value = _value(child, posted, errors)
        if value is not _OMIT:
            values[child.label] = value
    if not values and not widget.required:
        return _OMIT
    return values


def _blank(widget: FormField, posted: Posted) -> bool:
    """Nothing filled in (a checkbox unticked): an optional model left out."""
    if widget.kind == GROUP:
        return all(_blank(child, posted) for child in widget.children)
    values = posted.get(widget.name) or []
    if widget.kind == CHECKBOX:
        return "true" not in values
    return not any(v.strip() for v in values)


def _scalar(widget: FormField, raw: str, errors: dict[str, str], where: str) -> Any:
    if widget.kind == SELECT:
        return widget.choices.get(raw, raw)
    if widget.kind == NUMBER:
        return _number(raw, widget.number_type)
    if widget.kind == DATETIME:
        return zoned_datetime(raw, widget.zone)
    if widget.kind == JSON:
        try:
            return json.loads(raw)
        except ValueError as exc:
            if widget.takes_text:
                return raw
            errors[widget.name] = (
                f"{where}not valid JSON ({exc}): write a JSON value, such as "
                '{"key": 1}, [1, 2] or "text" (with the quotes)'
            )
            return _OMIT
    return raw


def _number(raw: str, kind: str) -> Any:
    if kind == "integer" and _INT.fullmatch(raw):
        return int(raw)
    try:
        number = float(raw)
    except ValueError:
        return raw
    if not math.isfinite(number):
        return raw
    return int(number) if kind == "integer" and number.is_integer() else number


def zoned_datetime(raw: str, zone: str) -> str:
    """A datetime-local input's value (no offset) as an ISO datetime in ``zone``; a value that
    has an offset, or is not a datetime, is left as it is."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.isoformat()


def errors_by_field(
    fields: Iterable[FormField], details: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """The server's validation errors (``ParameterError.errors``) by form field name: each goes
    to the deepest field its location names, saying which list item or union member it is
    about. An error no field names is left out (the form's banner says every error)."""
    names = {w.name for f in fields for w in f.walk()}
    found: dict[str, list[str]] = {}
    for detail in details:
        loc = detail.get("loc") or [detail.get("param")]
        name, notes = "", []
        for part in loc:
            if isinstance(part, int):
                notes.append(f"item {part + 1}")
                continue
            candidate = f"{name}.{part}" if name else str(part)
            if candidate in names and not notes:
                name = candidate
            else:
                notes.append(str(part))
        if name:
            message = str(detail.get("error") or "invalid")
            found.setdefault(name, []).append(f"{' '.join(notes)}: {message}" if notes else message)
    return {name: "; ".join(messages) for name, messages in found.items()}
