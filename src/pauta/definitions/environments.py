"""What a task asks of its virtualenv (``@task(isolation="venv", requirements=[...])``) or its
container (``@task(isolation="container", image="localhost/train:3")``).

Pure data, checked when the decorator runs; the environment itself is built by the ``venv``
executor (``pauta.executors.envs``) the first time an attempt needs it, and the container is
started by the ``container`` executor (``pauta.executors.container``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pauta.core.errors import DefinitionError


@dataclass(frozen=True, slots=True)
class VenvSpec:
    """The requirements (pip specifiers, as given) and the interpreter of a task's virtualenv.

    ``python`` is a path to an interpreter or a version such as ``"3.11"``; None means the
    interpreter running pauta.
    """

    requirements: tuple[str, ...] = ()
    python: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """The image of a task's container and the limits its resources become.

    ``cpus`` and ``memory`` (bytes; 0 means no limit) come from the task's ``Resources``.
    """

    image: str
    cpus: float = 1.0
    memory: int = 0


def container_image(image: Any, isolation: str, where: str) -> str | None:
    """``image`` checked: required by ``isolation="container"``, refused by the others."""
    if isolation != "container":
        if image is not None:
            raise DefinitionError(
                f"{where}: image= applies only to isolation='container' "
                f"(this task has isolation={isolation!r})"
            )
        return None
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image.strip()):
        raise DefinitionError(
            f"{where}: isolation='container' needs image=, the name of an image the container "
            f"CLI knows, such as 'localhost/train:3' (not {image!r})"
        )
    return image.strip()


def venv_options(
    requirements: Any, python: Any, isolation: str, where: str
) -> tuple[tuple[str, ...], str | None]:
    """``requirements`` and ``python`` checked: a list of specifiers and an interpreter."""
    if isolation != "venv":
        pairs = (("requirements", requirements), ("python", python))
        given = [name for name, value in pairs if value not in (None, (), [])]
        if given:
            raise DefinitionError(
                f"{where}: {' and '.join(f'{name}=' for name in given)} apply only to "
                f"isolation='venv' (this task has isolation={isolation!r})"
            )
        return (), None
    return _requirements(requirements, where), _python(python, where)


def _requirements(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise DefinitionError(
            f"{where}: requirements must be a list of strings such as ['six==1.16.0'], "
            f"not {type(value).__name__} {value!r}"
        )
    found: list[str] = []
    for entry in value:
        if not isinstance(entry, str) or not entry.strip():
            raise DefinitionError(
                f"{where}: requirements must be a list of non-empty strings; {entry!r} is not"
            )
        text = entry.strip()
        if "\n" in text or "\r" in text:
            raise DefinitionError(f"{where}: requirement {entry!r} spans lines: give one per item")
        if text.startswith("-"):
            raise DefinitionError(
                f"{where}: requirement {text!r} is an installer option; requirements are "
                "package specifiers such as 'scikit-learn==1.5.2' (set indexes in pip's or "
                "uv's own configuration)"
            )
        if text not in found:
            found.append(text)
    return tuple(found)


def _python(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(
            f"{where}: python must be an interpreter's path or a version such as '3.11', "
            f"not {value!r}"
        )
    return value.strip()
