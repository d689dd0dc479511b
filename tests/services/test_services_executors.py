"""What a deploy with ``executor="ray"`` or ``isolation=`` may ask, checked before anything is
recorded (pure), and that nothing imports Ray unless a service asks for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pauta import services
from pauta.core.settings import Settings
from pauta.services import ServiceSpecError, control
from pauta.services.spec import ServiceSpec, build_spec
from pauta.store.repository import Store
from pauta.store.services import ServicesStore


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"command": ["srv"], "executor": "ray"}, "command=.* runs only with the local"),
        ({"app": "m:f", "executor": "k8s"}, "executor must be one of 'local', 'ray'"),
        ({"app": "m:f", "ray_address": "h:6379"}, "ray_address is for executor='ray'"),
        ({"app": "m:f", "executor": "ray", "isolation": "venv"}, "on Ray the replicas run"),
        ({"app": "m:f", "isolation": "container"}, "needs image="),
        ({"app": "m:f", "isolation": "venv", "image": "x"}, "this service has isolation='venv'"),
        ({"app": "m:f", "isolation": "venv", "requirements": ["-e ."]}, "installer option"),
    ],
)
def test_executor_and_isolation_options_are_refused_with_the_reason(
    options: dict, message: str
) -> None:
    with pytest.raises(ServiceSpecError, match=message):
        build_spec(**options)


def test_a_ray_or_isolated_spec_round_trips_through_its_json() -> None:
    for spec in (
        build_spec(app="m:f", executor="ray", ray_address="head:6379"),
        build_spec(app="m:f", isolation="venv", requirements=["six==1.16.0"], python="3.11"),
        build_spec(command=["srv", "$PORT"], isolation="container", image="localhost/x:1"),
    ):
        assert ServiceSpec.from_json(spec.to_json()) == spec
    # a spec stored before these options existed reads as a local one
    old = build_spec(app="m:f").to_json()
    for key in ("executor", "ray_address", "isolation", "requirements", "python", "image"):
        old.pop(key)
    assert ServiceSpec.from_json(old) == build_spec(app="m:f")


def test_a_ray_deploy_refuses_a_port() -> None:
    with pytest.raises(ServiceSpecError, match="Ray Serve's HTTP address under /NAME"):
        services.deploy("svc", app="json:loads", executor="ray", port=8700)


def test_a_service_cannot_move_between_the_supervisor_and_ray(home: Path) -> None:
    store = Store.from_settings(Settings.from_env())
    try:
        found = ServicesStore(store)
        found.create_revision("svc", build_spec(app="m:f").to_json(), port=8701, created_by="t")
        control.check_executor(found, "svc", build_spec(app="m:f"))
        with pytest.raises(ServiceSpecError, match="runs on executor 'local'"):
            control.check_executor(found, "svc", build_spec(app="m:f", executor="ray"))
    finally:
        store.close()


def test_nothing_imports_ray_unless_a_service_runs_on_it() -> None:
    code = (
        "import sys, pauta.services.supervisor, pauta.services.client, pauta.cli.services; "
        "from pauta.services.spec import build_spec; build_spec(app='m:f', executor='ray'); "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
