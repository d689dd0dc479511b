"""``@task`` and ``@flow`` as definitions: decorator forms, plain calls outside a run, option
checks, names, wrapper metadata and the code hash."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import pauta
from pauta.core.errors import DefinitionError
from pauta.definitions.flow import Flow
from pauta.definitions.task import Task


def add(x: int, y: int = 1) -> int:
    """Add two numbers."""
    return x + y


@pauta.task
def double(x: int) -> int:
    return 2 * x


@pauta.task(retries=2, name="scale-by")
def scale(x: int, factor: int = 3) -> int:
    return x * factor


@pauta.flow
def pipeline(n: int = 3) -> None:
    """Train the model.

    Runs every Monday.
    """


# -- decorator forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "decorate",
    [pauta.task, pauta.task(), pauta.task(retries=1)],
    ids=["bare", "empty call", "with options"],
)
def test_task_decorator_forms(decorate: Callable[[Any], Any]) -> None:
    wrapped = decorate(add)
    assert isinstance(wrapped, Task)
    assert wrapped.fn is add
    assert wrapped(1, 2) == 3


@pytest.mark.parametrize(
    "decorate",
    [pauta.flow, pauta.flow(), pauta.flow(max_active_runs=1)],
    ids=["bare", "empty call", "with options"],
)
def test_flow_decorator_forms(decorate: Callable[[Any], Any]) -> None:
    wrapped = decorate(add)
    assert isinstance(wrapped, Flow)
    assert wrapped.fn is add
    assert wrapped.name == "add"


def test_options_reach_the_definition() -> None:
    assert scale.options.retries == 2
    assert double.options.retries == 0
    assert pauta.flow(timezone="Europe/Madrid")(add).options.timezone == "Europe/Madrid"


# -- a task outside a flow is its function -------------------------------------------------------


def test_a_task_outside_a_flow_returns_the_functions_value() -> None:
    assert double(21) == 42
    assert scale(2, factor=5) == 10


def test_a_task_outside_a_flow_lets_exceptions_through_unchanged() -> None:
    error = KeyError("missing row")

    @pauta.task
    def fail() -> None:
        raise error

    with pytest.raises(KeyError) as caught:
        fail()
    assert caught.value is error


def test_wait_for_is_dropped_outside_a_flow() -> None:
    assert double(4, wait_for=[object()]) == 8  # type: ignore[call-arg]


def test_a_function_that_takes_wait_for_receives_it() -> None:
    @pauta.task
    def gate(*, wait_for: Any = None) -> Any:
        return wait_for

    assert gate(wait_for="upstream") == "upstream"


def test_map_outside_a_flow_returns_plain_results() -> None:
    assert double.map([1, 2, 3]) == [2, 4, 6]
    assert scale.map(range(3), factor=10) == [0, 10, 20]
    assert double.map([], wait_for=[object()]) == []


def test_submit_outside_a_flow_is_refused() -> None:
    with pytest.raises(
        DefinitionError, match=r"double\.submit\(\) works only inside a running flow"
    ):
        double.submit(1)


# -- option checks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be a whole number >= 0, not -1"),
        ({"retries": 1.5}, "retries must be a whole number >= 0"),
        ({"retry_backoff": 0.5}, "retry_backoff must be a number >= 1"),
        ({"retry_delay": -1}, "retry_delay must be seconds"),
        ({"timeout": "1h"}, "timeout must be seconds"),
        (
            {"isolation": "vm"},
            "isolation='vm' is not available; use one of 'process', 'inline'",
        ),
        ({"priority": "high"}, "priority must be a whole number"),
        ({"retry_on": str}, "retry_on must be exception types"),
        ({"retry_on": (ValueError, "OSError")}, "retry_on must be exception types"),
        ({"resources": {"cpus": 2}}, r"resources must be a pauta\.Resources"),
        ({"pool_slots": 0}, "pool_slots must be a whole number >= 1"),
        ({"max_concurrency": 0}, "max_concurrency must be a whole number >= 1"),
        ({"cache_key": "by-day"}, "cache_key must be a function"),
        ({"on_failure": "alert"}, "on_failure must be a function or a list of functions"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_bad_task_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as caught:
        pauta.task(**options)(add)
    assert str(caught.value).startswith("@task 'add': ")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'; use an IANA name"),
        ({"max_active_runs": 0}, "max_active_runs must be a whole number >= 1, not 0"),
        ({"max_active_tasks": -2}, "max_active_tasks must be a whole number >= 1"),
        ({"priority": "high"}, "priority must be a whole number"),
        ({"retries": -1}, "retries must be a whole number >= 0"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_bad_flow_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as caught:
        pauta.flow(**options)(add)
    assert str(caught.value).startswith("@flow 'add': ")


@pytest.mark.parametrize(
    ("decorator", "option"),
    [(pauta.task, "retrys"), (pauta.flow, "shedule")],
    ids=["task", "flow"],
)
def test_a_misspelt_option_is_refused(decorator: Callable[..., Any], option: str) -> None:
    # silently ignoring it would run without the retries or schedule the user asked for
    with pytest.raises(DefinitionError, match=option):
        decorator(**{option: 3})(add)


def test_an_unknown_option_lists_the_valid_ones_and_the_closest() -> None:
    with pytest.raises(DefinitionError) as caught:
        pauta.task(bogus=1)(add)
    message = str(caught.value)
    assert message.startswith("@task 'add': unknown option bogus; ")
    assert "valid options: cache, cache_expiration, cache_key, executor," in message
    assert "retries" in message
    assert "tags" in message
    with pytest.raises(DefinitionError, match=r"unknown option retrys; did you mean retries\?"):
        pauta.task(retrys=3)(add)
    with pytest.raises(DefinitionError, match=r"did you mean schedule\?") as flow_error:
        pauta.flow(shedule="@daily")(add)
    flow_message = str(flow_error.value)
    assert "max_active_runs" in flow_message
    # not decorator options: the docstring is the description, triggers go in schedule=
    assert "description" not in flow_message
    assert "triggers" not in flow_message


def test_retry_on_accepts_one_type_or_a_tuple() -> None:
    assert pauta.task(retry_on=OSError)(add).options.retry_on == (OSError,)
    assert pauta.task(retry_on=(OSError, KeyError))(add).options.retry_on == (OSError, KeyError)


# -- names, descriptions, metadata -----------------------------------------------------------------


def test_names_default_to_the_function_name_and_can_be_set() -> None:
    assert double.name == "double"
    assert scale.name == "scale-by"
    assert pipeline.name == "pipeline"
    assert pauta.flow(name="weekly-training")(add).name == "weekly-training"


def test_a_nested_task_is_named_by_its_qualified_name_without_locals() -> None:
    @pauta.task
    def inner() -> None: ...

    assert inner.name == "test_a_nested_task_is_named_by_its_qualified_name_without_locals.inner"


def test_the_flow_docstring_becomes_its_description() -> None:
    assert pipeline.description == "Train the model.\n\nRuns every Monday."
    assert pauta.flow(lambda: None).description == ""


@pytest.mark.parametrize("decorator", [pauta.task, pauta.flow], ids=["task", "flow"])
def test_decorating_twice_is_refused(decorator: Callable[[Any], Any]) -> None:
    once = decorator(add)
    with pytest.raises(DefinitionError, match=r"add is already a .*: apply @.* once"):
        decorator(once)


@pytest.mark.parametrize("decorator", [pauta.task, pauta.flow], ids=["task", "flow"])
def test_wrapper_keeps_the_functions_metadata(decorator: Callable[[Any], Any]) -> None:
    wrapped = decorator(add)
    assert wrapped.__name__ == "add"
    assert wrapped.__qualname__ == "add"
    assert wrapped.__doc__ == "Add two numbers."
    assert wrapped.__module__ == add.__module__
    assert wrapped.__wrapped__ is add
    assert inspect.signature(wrapped) == inspect.signature(add)


def test_repr_names_the_definition() -> None:
    assert repr(double) == "<Task double>"
    assert repr(pipeline) == "<Flow pipeline>"


# -- code hash -------------------------------------------------------------------------------------


def _first_version() -> Flow[[], int]:
    @pauta.flow(name="evolving")
    def evolving() -> int:
        return 1

    return evolving


def _second_version() -> Flow[[], int]:
    @pauta.flow(name="evolving")
    def evolving() -> int:
        return 2

    return evolving


def test_code_hash_changes_when_the_body_changes() -> None:
    assert _first_version().code_hash != _second_version().code_hash


def test_code_hash_is_stable_for_the_same_function() -> None:
    first = _first_version()
    assert first.code_hash == first.code_hash
    assert first.code_hash == _first_version().code_hash
    assert pauta.flow(add).code_hash == pauta.flow(add).code_hash


def test_code_hash_of_a_function_without_source_file() -> None:
    namespace: dict[str, Any] = {}
    exec("def made() -> int:\n    return 1\n", namespace)
    flow = pauta.flow(namespace["made"])
    assert flow.code_hash == flow.code_hash
    assert len(flow.code_hash) == 16
