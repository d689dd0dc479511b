"""docs/reference.md lists every option of @task and @flow and every attribute of context():
an option added without its line here fails."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from pauta.definitions.context import Context
from pauta.definitions.options import FlowOptions, TaskOptions

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def _rows(section: str) -> set[str]:
    text = REFERENCE.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {name for line in body.splitlines() for name in re.findall(r"^\| `([a-z_]+)", line)}


@pytest.mark.parametrize(
    ("section", "options"), [("`@task(...)`", TaskOptions), ("`@flow(...)`", FlowOptions)]
)
def test_every_option_has_its_row(section: str, options: type) -> None:
    documented = _rows(section)
    names = {f.name for f in fields(options)}
    assert names - documented == set(), f"document these in docs/reference.md: {names - documented}"
    assert documented - names == set(), f"not options (any more): {documented - names}"


def test_every_context_attribute_has_its_row() -> None:
    text = REFERENCE.read_text().split("## `context()`\n", 1)[1]
    public = {f.name for f in fields(Context) if not f.name.endswith("_sink")}
    public |= {"logger", "in_run", "log_metric", "log_artifact", "log_param", "register_model"}
    documented = set(re.findall(r"^\| `([a-z_]+)", text, flags=re.M))
    documented |= set(re.findall(r", `([a-z_]+)` \|", text))
    assert public - documented == set()
