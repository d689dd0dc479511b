"""`import pauta`: every public name resolves, and importing the package alone costs nothing
(each name's module is imported on first use, so a command or a worker pays for what it uses)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pauta


def _python(code: str) -> list[str]:
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return ran.stdout.split()


@pytest.mark.parametrize("name", pauta.__all__)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    value = getattr(pauta, name)
    assert value is not None
    assert name in dir(pauta)
    assert getattr(value, "__name__", name) == name


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no attribute 'flwo'"):
        pauta.flwo  # noqa: B018
    with pytest.raises(ImportError, match="flwo"):
        exec("from pauta import flwo", {})


def test_import_pauta_imports_none_of_its_modules() -> None:
    code = "import sys, pauta; print(sorted(m for m in sys.modules if m.startswith('pauta.')))"
    assert _python(code) == ["[]"]


def test_a_flow_without_a_schedule_never_loads_cron_parsing() -> None:
    code = (
        "import sys\n"
        "from pauta import flow, task\n"
        "@task(outputs=[])\n"
        "def step(): pass\n"
        "@flow\n"
        "def plain(): step()\n"
        "from pauta.store.records import FlowRow\n"
        "print(FlowRow.of(plain, None).schedule)\n"
        "print(sorted(m for m in ('cronsim', 'pauta.definitions.schedules') if m in sys.modules))\n"
        "@flow(schedule='0 3 * * *')\n"
        "def nightly(): pass\n"
        "print(FlowRow.of(nightly, None).schedule)\n"
    )
    assert _python(code) == ["None", "[]", "0", "3", "*", "*", "*"]
