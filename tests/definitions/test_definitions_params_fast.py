"""The fast path for plain parameters (bare int/float/str/bool) gives exactly what pydantic gives.

Every comparison runs the same input through the fast path (``validate``, ``json_schema``) and
through pydantic directly (``_pydantic_validate``, ``model.model_json_schema()``).
"""

import json
import random
import subprocess
import sys
import textwrap
from enum import IntEnum
from typing import Any

import pytest

from pauta.core.errors import ParameterError
from pauta.definitions.params import ParameterSchema, _schema_generator


class Level(IntEnum):
    LOW = 1


def _schema(source: str) -> ParameterSchema:
    namespace: dict[str, Any] = {"Any": Any, "Level": Level}
    exec(source, namespace)
    return ParameterSchema(namespace["f"], "demo")


def _outcome(call: Any) -> tuple[Any, ...]:
    """What a validation gave, comparable across both paths (repr: NaN equals itself)."""
    try:
        values = call()
    except ParameterError as exc:
        return ("error", str(exc), exc.errors)
    return ("ok", [(name, type(v), repr(v)) for name, v in values.items()])


def _both(schema: ParameterSchema, raw: dict[str, Any], from_strings: bool) -> tuple[Any, Any]:
    fast = _outcome(lambda: schema.validate(raw, from_strings=from_strings))
    slow = _outcome(lambda: schema._pydantic_validate(raw, from_strings))
    return fast, slow


SIGNATURES = [
    "def f(n: int = 10): ...",
    "def f(n: int): ...",
    "def f(learning_rate: float = 0.01, epochs: int = 3, name: str = 'x', dry: bool = False): ...",
    "def f(a: int, b: str, c: float = 1.5, d: bool = True): ...",
    "def f(_x: int = 1, __dunder__: str = '', x2y: float = -0.5, ABC: bool = False): ...",
    "def f(_: int = 0, camelCase: str = 'a', already_Capital: int = 2, a_1_b: float = 0.0): ...",
    "def f(_private: bool, json: str, schema: int = 1, model_config: str = 'c'): ...",
    "def f(é_ß: str = 'ü', ǅungla: int = 1, x: str = '\\ud800'): ...",
    "def f(n: int = None, ratio: float = None, label: str = None, flag: bool = None): ...",
    "def f(n: int = True, ratio: float = 1, label: str = 5, flag: bool = 1.5): ...",
    "def f(big: int = 10**40, tiny: float = 5e-324, huge: float = 1.7e308, neg: int = -7): ...",
    "def f(x1: int, x2: int, *, x3: int = 3, x4: int, x5: int = 5): ...",
]


@pytest.mark.parametrize("source", SIGNATURES)
def test_json_schema_equals_pydantic(source: str) -> None:
    schema = _schema(source)
    assert schema.plain_parameters
    fast = schema.json_schema()
    slow = schema.model.model_json_schema()
    assert fast == slow
    assert json.dumps(fast) == json.dumps(slow)  # the same key order too


@pytest.mark.parametrize(
    "source",
    [
        "def f(n: int | None = None): ...",
        "def f(n: Level = Level.LOW): ...",
        "def f(n: Any = 1): ...",
        "def f(n=1): ...",
        "def f(n: list = []): ...",
        "def f(n: int = Level.LOW): ...",
        "def f(n: float = float('nan')): ...",
        "def f(n: float = float('inf')): ...",
        "def f(n: int = 1, m: 'list[int]' = None): ...",
    ],
)
def test_other_parameters_are_not_plain(source: str) -> None:
    schema = _schema(source)
    assert not schema.plain_parameters
    # and they keep pydantic's schema (with the names of an Enum's members)
    assert schema.json_schema() == schema.model.model_json_schema(
        schema_generator=_schema_generator()
    )


INT_TEXTS = ["10", "-3", "+4", "007", "0", "-0", "+0", "9" * 640, "1" + "0" * 639]
FLOAT_TEXTS = ["1.5", "1e3", "1E3", ".5", "5.", "-.5", "+1.5e-3", "-0.0", "10", "007", "1e-400"]
BOOL_TEXTS = ["true", "True", "TRUE", "False", "yes", "YES", "no", "on", "OFF", "y", "n", "t"]
BOOL_TEXTS += ["f", "0", "1"]
OTHER_TEXTS = [
    "",
    " 1",
    "1 ",
    "\t1",
    "1\n",
    "abc",
    "1_000",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "١٢",
    "\uff11\uff12",  # fullwidth digits
    "0x10",
    "1e3.5",
    "1e400",
    "-1e400",
    "1.0",
    "2",
    "00",
    "+",
    "-",
    ".",
    "e5",
    "1e",
    "null",
    "[1]",
    '"1"',
    "9" * 641,
    "0" * 5000,
    "0." + "1" * 500,
    "\uff34\uff32\uff35\uff25",  # fullwidth TRUE
    "\u212a",  # Kelvin sign: lower() gives an ASCII k
]
TEXTS = INT_TEXTS + FLOAT_TEXTS + BOOL_TEXTS + OTHER_TEXTS
PLAIN = _schema("def f(i: int = 0, x: float = 0.0, b: bool = False, s: str = '', r: int = 1): ...")


@pytest.mark.parametrize("name", ["i", "x", "b", "s"])
@pytest.mark.parametrize("text", TEXTS)
def test_strings_convert_as_pydantic_converts_them(name: str, text: str) -> None:
    fast, slow = _both(PLAIN, {name: text}, from_strings=True)
    assert fast == slow
    fast, slow = _both(PLAIN, {name: text}, from_strings=False)
    assert fast == slow


@pytest.mark.parametrize(
    ("name", "texts"),
    [("i", INT_TEXTS), ("x", FLOAT_TEXTS), ("b", BOOL_TEXTS), ("s", TEXTS)],
)
def test_the_usual_spellings_take_the_fast_path(name: str, texts: list[str]) -> None:
    for text in texts:
        assert PLAIN._fast_validate({name: text}, True) is not None, text


def test_random_strings_convert_as_pydantic_converts_them() -> None:
    rng = random.Random(20260105)
    alphabet = "0123456789+-.eE_ ntrufalsyoTFY"
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        for name in ("i", "x", "b"):
            fast, slow = _both(PLAIN, {name: text}, from_strings=True)
            assert fast == slow, (name, text)


@pytest.mark.parametrize(
    "value",
    [0, 7, -7, 2**53, -(2**53), 2**53 + 1, 2**63 + 1, 10**400, 1.5, -0.0, float("nan")],
    ids=repr,
)
@pytest.mark.parametrize("name", ["i", "x", "b", "s"])
@pytest.mark.parametrize("from_strings", [True, False])
def test_other_values_validate_as_pydantic_validates_them(
    name: str, value: Any, from_strings: bool
) -> None:
    for candidate in (value, True, False, None, [1], Level.LOW):
        fast, slow = _both(PLAIN, {name: candidate}, from_strings=from_strings)
        assert fast == slow, candidate


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"n": "5"},
        {"n": "5", "label": "x"},
        {"label": "x"},
        {"n": "5", "nope": 1},
        {"n": "five"},
        {"n": "1.5", "ratio": "x", "flag": "maybe"},
        {"n": 5, "ratio": 2, "flag": True, "label": ""},
    ],
)
def test_missing_unknown_and_bad_parameters_are_reported_as_before(raw: dict[str, Any]) -> None:
    schema = _schema("def f(n: int, ratio: float = 0.5, flag: bool = False, label: str = 'a'): ...")
    for from_strings in (True, False):
        fast, slow = _both(schema, raw, from_strings=from_strings)
        assert fast == slow


def test_plain_parameters_do_not_import_pydantic() -> None:
    script = textwrap.dedent(
        """
        import sys

        import pauta
        assert "pydantic" not in sys.modules, "import pauta imports pydantic"
        from pauta import flow

        @flow
        def chain(n: int, ratio: float = 0.5, label: str = "x", dry: bool = False) -> None: ...

        values = chain.parameters.validate(
            {"n": "5", "ratio": "1e-3", "dry": "yes"}, from_strings=True
        )
        assert values == {"n": 5, "ratio": 0.001, "label": "x", "dry": True}, values
        assert chain.parameters.json_schema()["required"] == ["n"]
        assert "pydantic" not in sys.modules, "the fast path imported pydantic"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
