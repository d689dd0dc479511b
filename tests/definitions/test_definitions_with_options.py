"""``Task.with_options``: a copy of a task with some options changed, checked as ``@task``
checks them, leaving the original alone."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest

import pauta
from pauta import Asset, Resources
from pauta.core.errors import DefinitionError
from pauta.definitions.options import TaskOptions


def on_done(event: object) -> None:
    pass


@pauta.task(retries=1, timeout=30, tags=["etl"], pool="db", cache=True)
def load(day: str) -> str:
    """Load one day."""
    return f"loaded {day}"


@pauta.task(isolation="venv", requirements=["six==1.16.0"], python="3.11")
def in_venv() -> None:
    pass


def test_the_copy_has_the_new_options_and_keeps_the_rest() -> None:
    copy = load.with_options(retries=5, timeout=timedelta(minutes=2))
    assert copy is not load
    assert (copy.options.retries, copy.options.timeout) == (5, 120.0)
    assert copy.options.tags == ("etl",)
    assert copy.options.pool == "db"
    assert copy.options.cache is True
    assert copy.name == "load"
    assert copy.fn is load.fn
    assert copy("monday") == "loaded monday"
    assert copy.__doc__ == "Load one day."


def test_the_original_is_unchanged() -> None:
    before = load.options
    load.with_options(retries=9, name="other", resources=Resources(cpus=4))
    assert load.options is before
    assert (load.name, load.options.retries, load.options.resources) == ("load", 1, Resources())


def test_every_option_task_takes_can_be_changed() -> None:
    changes: dict[str, Any] = {
        "name": "renamed",
        "retries": 3,
        "retry_delay": 0.5,
        "retry_backoff": 3.0,
        "retry_jitter": False,
        "max_retry_delay": 10.0,
        "retry_on": (KeyError,),
        "timeout": 5.0,
        "resources": Resources(cpus=2, memory="1GiB"),
        "priority": 7,
        "pool": "gpu",
        "pool_slots": 2,
        "max_concurrency": 3,
        "cache": True,
        "cache_key": lambda day: day,
        "cache_expiration": 60.0,
        "outputs": (Asset("tables/day"),),
        "executor": "ray",
        "isolation": "container",
        "requirements": (),
        "python": None,
        "image": "localhost/etl:1",
        "on_success": (on_done,),
        "on_failure": (on_done,),
        "on_retry": (on_done,),
        "tags": ("nightly",),
        "label": "load[{day}]",
        "teardown": True,
        "latest_only": True,
    }
    # a test that fails when @task gains an option this one does not try
    assert set(changes) == {f.name for f in fields(TaskOptions)}
    copy = load.with_options(**changes)
    for option, value in changes.items():
        assert getattr(copy.options, option) == value, option
    assert copy.name == "renamed"
    # a label is checked against the function's parameters, as @task checks it
    with pytest.raises(DefinitionError, match=r"\{days\}, which is not a parameter"):
        load.with_options(label="load[{days}]")


def test_an_unknown_option_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(DefinitionError) as raised:
        load.with_options(retrys=3)
    message = str(raised.value)
    assert "load.with_options()" in message
    assert "unknown option retrys" in message
    assert "did you mean retries?" in message
    assert "valid options: cache, cache_expiration, cache_key" in message
    assert load.options.retries == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retries": -1}, "retries must be a whole number >= 0"),
        ({"timeout": "soon"}, "timeout must be seconds"),
        ({"resources": {"cpus": 2}}, "resources must be a pauta.Resources"),
        ({"isolation": "thread"}, "isolation='thread' is not available"),
        ({"pool_slots": 0}, "pool_slots must be a whole number >= 1"),
        ({"priority": 1.5}, "priority must be a whole number"),
        ({"on_failure": "email"}, "on_failure must be a function"),
        ({"image": "x"}, "image= applies only to isolation='container'"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_bad_values_are_checked_as_task_checks_them(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape("load.with_options()")) as raised:
        load.with_options(**changes)
    assert message in str(raised.value)


def test_leaving_a_venv_drops_its_requirements() -> None:
    assert in_venv.options.venv is not None
    plain = in_venv.with_options(isolation="process")
    assert plain.options.venv is None
    assert (plain.options.requirements, plain.options.python) == ((), None)
    # staying in the venv keeps them; giving them with another isolation is refused
    assert in_venv.with_options(retries=2).options.requirements == ("six==1.16.0",)
    with pytest.raises(DefinitionError, match="apply only to isolation='venv'"):
        in_venv.with_options(isolation="process", requirements=["six"])


def test_copies_of_copies_and_no_changes() -> None:
    same = load.with_options()
    assert same.options == load.options
    twice = load.with_options(retries=2).with_options(name="load-twice")
    assert (twice.name, twice.options.retries, twice.options.timeout) == ("load-twice", 2, 30.0)
