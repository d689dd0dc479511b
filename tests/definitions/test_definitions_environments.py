"""``@task(isolation="venv", requirements=[...], python=...)`` and ``@task(isolation="container",
image=...)``: what is accepted and what is refused, with a message that says how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pauta
from pauta.core.errors import DefinitionError
from pauta.definitions.environments import ContainerSpec


def train(x: int) -> int:
    return x


def test_a_venv_task_keeps_its_requirements_and_interpreter() -> None:
    defined = pauta.task(
        isolation="venv", requirements=["six==1.16.0", " tomli-w ", "six==1.16.0"], python="3.11"
    )(train)
    assert defined.options.isolation == "venv"
    # stripped and without repeats, in the order given
    assert defined.options.requirements == ("six==1.16.0", "tomli-w")
    assert defined.options.python == "3.11"


def test_a_venv_task_may_name_no_requirements_and_an_interpreter_path() -> None:
    defined = pauta.task(isolation="venv", python=Path("/usr/bin/python3"))(train)
    assert defined.options.requirements == ()
    assert defined.options.python == "/usr/bin/python3"


def test_other_tasks_have_no_environment() -> None:
    defined = pauta.task(train)
    assert defined.options.requirements == ()
    assert defined.options.python is None


def test_a_container_task_keeps_its_image_and_its_resources_become_limits() -> None:
    defined = pauta.task(
        isolation="container",
        image=" localhost/train:3 ",
        resources=pauta.Resources(cpus=2, memory="1GiB"),
    )(train)
    assert defined.options.isolation == "container"
    assert defined.options.container == ContainerSpec("localhost/train:3", 2.0, 1024**3)
    assert defined.options.venv is None
    assert pauta.task(train).options.container is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"requirements": ["six"]},
            r"requirements= apply only to isolation='venv' \(this task has isolation='process'\)",
        ),
        (
            {"isolation": "inline", "requirements": ["six"], "python": "3.11"},
            "requirements= and python= apply only to isolation='venv'",
        ),
        (
            {"isolation": "venv", "requirements": "six==1.16.0"},
            r"requirements must be a list of strings such as \['six==1.16.0'\], not str",
        ),
        (
            {"isolation": "venv", "requirements": ["six", 3]},
            "requirements must be a list of non-empty strings; 3 is not",
        ),
        (
            {"isolation": "venv", "requirements": ["  "]},
            "requirements must be a list of non-empty strings",
        ),
        ({"isolation": "venv", "requirements": ["six\nrich"]}, "spans lines"),
        (
            {"isolation": "venv", "requirements": ["--index-url=http://x"]},
            "is an installer option; requirements are package specifiers",
        ),
        ({"isolation": "venv", "python": 3.11}, "python must be an interpreter's path or"),
        (
            {"image": "localhost/train:3"},
            r"image= applies only to isolation='container' \(this task has isolation='process'\)",
        ),
        (
            {"isolation": "container"},
            "isolation='container' needs image=, the name of an image the container CLI knows",
        ),
        ({"isolation": "container", "image": "a b"}, "needs image="),
        (
            {"isolation": "container", "image": "x:1", "requirements": ["six"]},
            "requirements= apply only to isolation='venv'",
        ),
    ],
    ids=lambda v: (
        "-".join(f"{k}={v[k]}" if k == "isolation" else k for k in sorted(v))
        if isinstance(v, dict)
        else None
    ),
)
def test_bad_environment_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as caught:
        pauta.task(**options)(train)
    assert str(caught.value).startswith("@task 'train': ")
