"""Call labels: ``@task(label="train[{kind}]")`` names each call after its arguments.

A label is a ``str.format`` template over the task function's parameters. It is checked when
the task is defined (every field must name a parameter, so a typo fails at import, not in the
middle of a run) and rendered when a call is made: plain values through ``format``, a future
(an upstream call's result, not known yet) as that call's label or key. Rendering never fails
a call: a field whose value cannot be formatted shows as ``?``. The key stays the replay key;
the label is what people read in the CLI, the UI and beside the key in JSON.
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Mapping
from typing import Any

from pauta.core.errors import DefinitionError

MAX_LABEL_LENGTH = 200
_formatter = string.Formatter()


def check_label(template: Any, fn: Callable[..., Any], where: str) -> str | None:
    """``template`` checked against ``fn``'s parameters; DefinitionError naming what is wrong."""
    if template is None:
        return None
    if not isinstance(template, str) or not template.strip():
        raise DefinitionError(
            f"{where}: label must be a non-empty format string like 'train[{{kind}}]'"
        )
    try:
        fields = [field for _, field, _, _ in _formatter.parse(template) if field is not None]
    except ValueError as exc:
        raise DefinitionError(
            f"{where}: label {template!r} is not a valid format string: {exc}"
        ) from None
    parameters = inspect.signature(fn).parameters
    for field in fields:
        name = _field_name(field)
        if not name or name.isdigit():
            example = next(iter(parameters), "x")
            raise DefinitionError(
                f"{where}: label {template!r}: name each field after a parameter "
                f"({', '.join(parameters) or 'the function takes none'}), e.g. {{{example}}}"
            )
        if name not in parameters:
            raise DefinitionError(
                f"{where}: label {template!r} uses {{{name}}}, which is not a parameter of the "
                f"function; its parameters are {', '.join(parameters) or '(none)'}"
            )
    return template


def render_label(
    template: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    describe: Callable[[Any], str | None],
) -> str:
    """The label of one call. ``describe`` names a future (or returns None for a plain value)."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
    except TypeError:
        values = dict(kwargs)
    parts: list[str] = []
    for literal, field, spec, conversion in _formatter.parse(template):
        parts.append(literal)
        if field is None:
            continue
        parts.append(_render_field(field, spec or "", conversion, values, describe))
    label = "".join(parts)
    if len(label) > MAX_LABEL_LENGTH:
        label = label[: MAX_LABEL_LENGTH - 1] + "…"
    return label


def _render_field(
    field: str,
    spec: str,
    conversion: str | None,
    values: Mapping[str, Any],
    describe: Callable[[Any], str | None],
) -> str:
    name = _field_name(field)
    if name not in values:
        return "?"
    value = values[name]
    named = describe(value)
    if named is not None:
        return named
    try:
        obj, _ = _formatter.get_field(field, (), values)
        obj = _formatter.convert_field(obj, conversion)
        return _formatter.format_field(obj, spec)
    except Exception:  # a label must never fail the call it names
        return "?"


def _field_name(field: str) -> str:
    """``row`` for ``row.id`` or ``row[0]``."""
    for i, char in enumerate(field):
        if char in ".[":
            return field[:i]
    return field
