"""Flow parameters: the flow function's signature is the schema.

Values from the CLI (strings), the API (JSON) or Python calls are coerced and validated with
pydantic before anything runs; a bad value names the parameter, the expected type and the value
received.

Importing pydantic and building a model costs a CLI run a noticeable share of its time, so flows
whose parameters are all bare ``int``/``float``/``str``/``bool`` take a fast path: values whose
result is certain, and the JSON schema, are produced here exactly as pydantic would produce them;
everything else (every error in particular) still goes through pydantic.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from pauta.core.errors import DefinitionError, ParameterError

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter, ValidationError
    from pydantic.json_schema import GenerateJsonSchema

_PLAIN = (type(None), bool, int, float, str)

# The annotations the fast path handles, with their JSON schema type.
_FAST_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
# Strings whose conversion is certain: at most 640 digits for an int (int() accepts that many
# whatever sys.set_int_max_str_digits says); anything else (spaces, ``1_000``, ``nan``, non-ASCII
# digits, ...) is left to pydantic.
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,640}")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# pydantic's spellings of a bool, matched case-insensitively
_BOOL_TEXT = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}
# _fast_value's answer when pydantic has to decide
_UNSURE = object()


@dataclass(frozen=True, slots=True)
class Parameter:
    """One flow parameter as users see it."""

    name: str
    annotation: Any
    default: Any
    required: bool

    @property
    def type_name(self) -> str:
        return type_label(self.annotation)


def type_label(annotation: Any) -> str:
    """A readable name for a type hint: ``int``, ``date | None``, ``list[str]``."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "any"
    if typing.get_origin(annotation) is typing.Annotated:
        # Annotated[int, Field(ge=1)] reads as int: the bounds are said by the error itself
        return type_label(typing.get_args(annotation)[0])
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("datetime.", "")


class ParameterSchema:
    """The parameters of one flow, with validation."""

    def __init__(self, fn: Callable[..., Any], flow_name: str) -> None:
        self.flow_name = flow_name
        self.parameters = _read_signature(fn, flow_name)
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    @property
    def plain_defaults(self) -> bool:
        """True when nothing is required and every default is a plain JSON scalar: then the
        defaults need neither validation (pydantic does not validate defaults) nor conversion."""
        return all(not p.required and type(p.default) in _PLAIN for p in self.parameters)

    @cached_property
    def plain_parameters(self) -> bool:
        """True when every parameter is a bare int, float, str or bool with a plain default (a
        finite float: NaN is not JSON): then the fast path can validate and describe them."""
        return all(
            _is_fast_type(p.annotation)
            and (p.required or (type(p.default) in _PLAIN and _finite(p.default)))
            for p in self.parameters
        )

    @cached_property
    def model(self) -> type[BaseModel]:
        # pydantic is imported on first use: flows without parameters never need it
        from pydantic import ConfigDict, Field, create_model

        # Fields get neutral names and the parameter's name as alias, so a parameter may be
        # called anything (``json``, ``schema``, ``_private``) without clashing with pydantic.
        fields: dict[str, Any] = {
            _field(i): (p.annotation, Field(... if p.required else p.default, alias=p.name))
            for i, p in enumerate(self.parameters)
        }
        return create_model(  # type: ignore[call-overload,no-any-return]
            f"{self.flow_name}_parameters",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **fields,
        )

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters (shown in the UI and the API)."""
        if not self.parameters:
            return {"properties": {}, "title": f"{self.flow_name}_parameters", "type": "object"}
        if self.plain_parameters:
            return self._fast_json_schema()
        try:
            return self.model.model_json_schema(schema_generator=_schema_generator())
        except Exception:
            # types pydantic cannot describe (arbitrary classes) still validate by isinstance
            return {
                "type": "object",
                "properties": {p.name: {"title": p.name} for p in self.parameters},
                "required": [p.name for p in self.parameters if p.required],
            }

    def validate(self, raw: Mapping[str, Any], *, from_strings: bool = False) -> dict[str, Any]:
        """Python values for ``raw``; raises ParameterError naming every bad parameter.

        With ``from_strings`` (CLI values), a string that is not valid as such but parses as
        JSON is tried as JSON, so ``--param sizes=[1,2]`` works for a ``list[int]``.
        """
        if not raw and self.plain_defaults:
            return {p.name: p.default for p in self.parameters}
        if self.plain_parameters:
            values = self._fast_validate(raw, from_strings)
            if values is not None:
                return values
        return self._pydantic_validate(raw, from_strings)

    def validate_input(
        self, params: Mapping[str, Any], strings: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Python values from what a caller gave: typed ``params`` (JSON) and, from the CLI,
        ``strings`` parsed to each parameter's type. The one validation at the edge."""
        if not isinstance(params, Mapping):
            raise ParameterError(
                f"the parameters of flow {self.flow_name!r} must be an object of name: value",
                errors=[{"param": "params", "error": "must be an object"}],
            )
        values = self.validate(params) if params else {}
        if strings or not params:
            values.update(self.validate({**params, **(strings or {})}, from_strings=True))
        return values

    def _pydantic_validate(self, raw: Mapping[str, Any], from_strings: bool) -> dict[str, Any]:
        from pydantic import ValidationError

        known = {p.name: p for p in self.parameters}
        unknown = [name for name in raw if name not in known]
        if unknown:
            takes = ", ".join(f"{p.name} ({p.type_name})" for p in self.parameters) or "nothing"
            raise ParameterError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown)} for flow {self.flow_name!r}; "
                f"it takes: {takes}",
                errors=[{"param": u, "error": "unknown parameter"} for u in unknown],
            )
        values = dict(raw)
        if from_strings:
            values = {name: self._from_string(known[name], value) for name, value in raw.items()}
        try:
            model = self.model.model_validate(values)
        except ValidationError as exc:
            raise self._error(exc, raw) from None
        return {p.name: getattr(model, _field(i)) for i, p in enumerate(self.parameters)}

    def to_json(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-compatible form of validated values (what the store keeps); the values are
        serialized by their parameter's type, not validated again."""
        if all(type(v) in _PLAIN for v in values.values()):
            return dict(values)
        try:
            fields = {
                _field(i): values[p.name] for i, p in enumerate(self.parameters) if p.name in values
            }
            built = self.model.model_construct(**fields)
            return built.model_dump(mode="json", by_alias=True, warnings=False)
        except Exception:
            return {k: _jsonable(v) for k, v in values.items()}

    def _fast_json_schema(self) -> dict[str, Any]:
        """What pydantic's ``model_json_schema()`` gives for plain parameters, key order included
        (pydantic sorts keys, except those of ``properties``)."""
        properties = {}
        for p in self.parameters:
            prop: dict[str, Any] = {} if p.required else {"default": p.default}
            # pydantic's title for a field: GenerateJsonSchema.get_title_from_name
            prop["title"] = p.name.title().replace("_", " ").strip()
            prop["type"] = _FAST_TYPES[p.annotation]
            properties[p.name] = prop
        schema: dict[str, Any] = {"additionalProperties": False, "properties": properties}
        required = [p.name for p in self.parameters if p.required]
        if required:
            schema["required"] = required
        schema["title"] = f"{self.flow_name}_parameters"
        schema["type"] = "object"
        return schema

    def _fast_validate(self, raw: Mapping[str, Any], from_strings: bool) -> dict[str, Any] | None:
        """The values pydantic would give, or None when any of them is not certain (unknown or
        missing names, values to reject): pydantic then decides and words the errors."""
        if any(name not in self._names for name in raw):
            return None
        values = {}
        for p in self.parameters:
            if p.name not in raw:
                if p.required:
                    return None
                values[p.name] = p.default
                continue
            value = _fast_value(p.annotation, raw[p.name], from_strings)
            if value is _UNSURE:
                return None
            values[p.name] = value
        return values

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parameters)

    def _from_string(self, param: Parameter, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        from pydantic import ConfigDict, TypeAdapter, ValidationError

        adapter = self._adapters.get(param.name)
        if adapter is None:
            adapter = TypeAdapter(param.annotation, config=ConfigDict(arbitrary_types_allowed=True))
            self._adapters[param.name] = adapter
        try:
            adapter.validate_python(value)
            return value
        except ValidationError:
            pass
        try:
            return json.loads(value)
        except ValueError:
            return value

    def _error(self, exc: ValidationError, raw: Mapping[str, Any]) -> ParameterError:
        known = {p.name: p for p in self.parameters}
        lines = []
        details = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            param = known.get(name)
            expected = param.type_name if param else "?"
            if err["type"] == "missing":
                lines.append(f"parameter {name!r} ({expected}) is required but was not given")
            else:
                received = raw.get(name, err.get("input"))
                where = "".join(f"[{part!r}]" for part in err["loc"][1:])
                lines.append(
                    f"parameter {name!r}{where}: expected {expected}, got {received!r} "
                    f"({err['msg'].lower()})"
                )
            # loc: where in the value, for forms that show each nested field's own error
            loc = [part if isinstance(part, int) else str(part) for part in err["loc"]]
            details.append({"param": name, "error": err["msg"], "expected": expected, "loc": loc})
        text = f"invalid parameters for flow {self.flow_name!r}: " + "; ".join(lines)
        return ParameterError(text, errors=details)


@cache
def _schema_generator() -> type[GenerateJsonSchema]:
    """pydantic's JSON schema generator, adding to an Enum's schema its members' names
    (``x-enum-names``, in the order of ``enum``): the UI's form shows a member by its name."""
    from pydantic.json_schema import GenerateJsonSchema

    class _WithEnumNames(GenerateJsonSchema):
        def enum_schema(self, schema: Any) -> dict[str, Any]:
            described = super().enum_schema(schema)
            described["x-enum-names"] = [member.name for member in schema["members"]]
            return described

    return _WithEnumNames


def _is_fast_type(annotation: Any) -> bool:
    """Exactly int, float, str or bool (not a subclass, Optional, Annotated, ...); compared by
    identity because an annotation need not be hashable."""
    return any(annotation is t for t in _FAST_TYPES)


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _fast_value(annotation: type, value: Any, from_strings: bool) -> Any:
    """pydantic's (lax mode) result for ``value``, or _UNSURE."""
    if type(value) is annotation:
        return value
    if annotation is float and type(value) is int and abs(value) <= 2**53:
        return float(value)  # exact, as pydantic gives
    if not from_strings or type(value) is not str:
        return _UNSURE
    if annotation is int and _INT_TEXT.fullmatch(value):
        return int(value)
    if annotation is float and _FLOAT_TEXT.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else _UNSURE
    if annotation is bool and value.isascii():
        return _BOOL_TEXT.get(value.lower(), _UNSURE)
    return _UNSURE


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def _field(index: int) -> str:
    return f"p{index}"


def _resolve_hint(fn: Callable[..., Any], annotation: Any) -> Any:
    """One parameter's type; Any when it cannot be resolved (a name imported only for type
    checking), without losing the other parameters' types."""
    if annotation is inspect.Parameter.empty:
        return Any
    if isinstance(annotation, str):
        try:
            namespace = getattr(fn, "__globals__", {})
            annotation = eval(annotation, dict(namespace))
        except Exception:
            return Any
    return annotation


def _read_signature(fn: Callable[..., Any], flow_name: str) -> list[Parameter]:
    signature = inspect.signature(fn)
    try:
        # include_extras keeps Annotated[..., Field(...)]: its bounds and description
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        # some hint cannot be resolved: resolve each parameter on its own
        hints = {name: _resolve_hint(fn, p.annotation) for name, p in signature.parameters.items()}
    params = []
    for p in signature.parameters.values():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise DefinitionError(
                f"flow {flow_name!r}: *{p.name} / **{p.name} cannot be flow parameters; "
                "declare each parameter by name so it can be validated and shown in the UI"
            )
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise DefinitionError(
                f"flow {flow_name!r}: parameter {p.name!r} is positional-only; flow parameters "
                "are passed by name"
            )
        annotation = hints.get(p.name, Any)
        if isinstance(annotation, str):
            annotation = Any
        required = p.default is inspect.Parameter.empty
        params.append(Parameter(p.name, annotation, None if required else p.default, required))
    return params


def bind_call(schema: ParameterSchema, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict:
    """Turn a Python call's positional and keyword arguments into a name → value mapping."""
    names = [p.name for p in schema.parameters]
    if len(args) > len(names):
        raise ParameterError(
            f"flow {schema.flow_name!r} takes {len(names)} parameters but {len(args)} "
            "positional arguments were given"
        )
    values = dict(zip(names, args, strict=False))
    for name in kwargs:
        if name in values:
            raise ParameterError(f"flow {schema.flow_name!r} got two values for {name!r}")
    values.update(kwargs)
    return values
