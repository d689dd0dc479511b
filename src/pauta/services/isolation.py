"""Replicas in a virtualenv or a container, as tasks get them (``pauta.executors``).

``isolation="venv"``: the revision's environment is taken from the same env manager, cache
and hash as a ``venv`` task's (``pauta.executors.envs``: built once per requirements and
interpreter, under ``PAUTA_ENVS_DIR``), and each replica runs that environment's
interpreter. ``isolation="container"``: each replica is a container of ``image`` started by
the container CLI (podman by default), with its port published on 127.0.0.1, so the
supervisor's health checks and proxy reach it as any replica. Either way pauta's runtime and
the ASGI server (uvicorn, which an environment or image does not need to have) are made
importable inside without being installed there; the environment's or image's own come first.

Preparing blocks (a first build takes a while): the replica set does it in a thread.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from pauta.core.errors import PautaError
from pauta.core.host import hostname
from pauta.core.settings import Settings
from pauta.definitions.environments import VenvSpec
from pauta.executors import container_cli
from pauta.executors.envs import (
    RUNTIME_PACKAGES,
    EnvBuildError,
    Environments,
    link_packages,
    package_paths,
)
from pauta.services.spec import ServiceSpec

SERVING_PACKAGES = ("uvicorn", "h11", "click")
"""What a replica needs to serve an ASGI app, beside pauta (pure Python)."""
SERVING_DIR = "pauta-serving"
CONTAINER_PORT = 8000
"""The port a containerised replica listens on inside its container."""
IN_CONTAINER_RUNTIME = "/pauta/runtime"
IN_CONTAINER_SERVING = "/pauta/serving"
LABEL = "pauta.worker"
"""The label ``container_cli.remove_orphans`` finds left-overs by: ``host:pid`` of the
supervisor that started the container."""


class IsolationError(PautaError):
    """A replica's environment could not be built, or its image is missing."""


@dataclass(frozen=True, slots=True)
class ContainerLaunch:
    cli: tuple[str, ...]
    image: str


@dataclass(slots=True)
class Launch:
    """How a revision's replicas start: which Python, with what added to their environment,
    in which container."""

    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)
    container: ContainerLaunch | None = None
    release: Callable[[], None] | None = None

    def close(self) -> None:
        if self.release is not None:
            self.release()
            self.release = None


def prepare(spec: ServiceSpec) -> Launch:
    """The launch of ``spec``'s replicas; IsolationError saying what failed otherwise."""
    if spec.isolation == "venv":
        return _venv(spec)
    if spec.isolation == "container":
        return _container(spec)
    return Launch()


def _venv(spec: ServiceSpec) -> Launch:
    envs = Environments(Settings.from_env().envs_dir)
    try:
        env = envs.acquire(VenvSpec(spec.requirements, spec.python))
    except EnvBuildError as exc:
        tail = f"\n--- the installer's last lines ---\n{exc.tail}" if exc.tail else ""
        raise IsolationError(f"its virtualenv could not be built: {exc}{tail}") from None
    serving = link_packages(env.path / SERVING_DIR, SERVING_PACKAGES)
    bin_dir = str(env.path / "bin")
    return Launch(
        python=str(env.python),
        env={
            "PAUTA_SERVICE_RUNTIME": str(serving),
            "VIRTUAL_ENV": str(env.path),
            # a command replica finds the environment's programs first, as when activated
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        },
        release=env.release,
    )


def _container(spec: ServiceSpec) -> Launch:
    cli = container_cli.container_cli()
    if shutil.which(cli[0]) is None:
        raise IsolationError(
            f"the container CLI {cli[0]!r} is not installed here (set PAUTA_CONTAINER_CLI, or "
            "install podman)"
        )
    assert spec.image is not None
    found = container_cli.quietly([*cli, "image", "inspect", "--format", "{{.Id}}", spec.image])
    if not found.strip():
        raise IsolationError(
            f"the image {spec.image!r} is not known to {cli[0]}: build or pull it first "
            f"({cli[0]} images lists those it has)"
        )
    return Launch(container=ContainerLaunch(tuple(cli), spec.image))


def remove_left_overs() -> list[str]:
    """Remove the replica containers of supervisors of this host that are gone; their names."""
    cli = container_cli.container_cli()
    if shutil.which(cli[0]) is None:
        return []
    return container_cli.remove_orphans(cli)


def container_name(service: str, revision: int, index: int, started: int) -> str:
    return f"pauta-svc-{service}-r{revision}-{index}-{started}"


def container_argv(
    launch: ContainerLaunch,
    spec: ServiceSpec,
    *,
    name: str,
    port: int,
    env: dict[str, str],
    labels: dict[str, str],
) -> list[str]:
    """``run`` of one replica's container: its port published on 127.0.0.1:``port``."""
    command = [*launch.cli, "run", "--rm", "--name", name]
    labels = {LABEL: f"{hostname()}:{os.getpid()}", **labels}
    for label, value in labels.items():
        command += ["--label", f"{label}={value}"]
    command += container_cli.ulimits()
    command += ["--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}"]
    resources = spec.resources
    if resources is not None:
        command += ["--cpus", f"{resources.cpus:g}"]
        if resources.memory:
            command += ["--memory", f"{resources.memory}b", "--memory-swap", f"{resources.memory}b"]
    mounts = []
    for target in package_paths(RUNTIME_PACKAGES):
        real = os.path.realpath(target)
        mounts.append(f"{real}:{IN_CONTAINER_RUNTIME}/{os.path.basename(real)}:ro")
    for target in package_paths(SERVING_PACKAGES):
        real = os.path.realpath(target)
        mounts.append(f"{real}:{IN_CONTAINER_SERVING}/{os.path.basename(real)}:ro")
    folders = [os.path.realpath(p) for p in spec.path if os.path.isdir(p)]
    mounts += [f"{folder}:{folder}:ro" for folder in folders]
    for mount in mounts:
        command += ["--volume", mount]
    variables = {
        **env,
        "PYTHONPATH": IN_CONTAINER_RUNTIME,
        "PAUTA_SERVICE_RUNTIME": IN_CONTAINER_SERVING,
        "PAUTA_SERVICE_PATH": os.pathsep.join(folders),
        "PORT": str(CONTAINER_PORT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key, value in variables.items():
        command += ["--env", f"{key}={value}"]
    command.append(launch.image)
    if spec.app is not None:
        bind = f"0.0.0.0:{CONTAINER_PORT}"
        return [
            *command,
            "python3",
            "-m",
            "pauta.services.replica",
            "--bind",
            bind,
            "--app",
            spec.app,
        ]
    return [
        *command,
        *(
            a.replace("${PORT}", str(CONTAINER_PORT)).replace("$PORT", str(CONTAINER_PORT))
            for a in spec.command or ()
        ),
    ]


def stop_container(cli: tuple[str, ...], name: str) -> None:
    """Remove the container at once (blocking; its CLI may take a second)."""
    container_cli.quietly([*container_cli.rm_command(cli), name])
