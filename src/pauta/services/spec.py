"""What a revision runs: an ASGI app factory or a command, its config and replicas (pure).

A spec is checked when it is made, so a bad deploy fails in the task that asked for it, with
the reason, before anything is recorded or started.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pauta.core.errors import DefinitionError
from pauta.core.resources import Resources
from pauta.definitions.environments import container_image, venv_options
from pauta.services.errors import ServiceSpecError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""Service names go into URLs, file names and metric labels."""
APP_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_REPLICAS = 32
MAX_READY_TIMEOUT_S = 3600.0
MAX_CONFIG_BYTES = 64 * 1024
"""Config travels in an environment variable: large data goes by reference (a path)."""
MAX_COMMAND_ARGS = 256
EXECUTORS = ("local", "ray")
ISOLATIONS = ("venv", "container")
"""``local``: replicas supervised by pauta on this machine; ``ray``: a Ray Serve application."""


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ServiceSpecError(
            f"service name {name!r} must be 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def check_port(port: object) -> int | None:
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServiceSpecError(f"port must be a number from 1 to 65535, not {port!r}")
    return port


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One revision's program and settings, as stored with it."""

    app: str | None = None
    command: tuple[str, ...] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    replicas: int = 1
    health: str | None = "/health"
    ready_timeout: float = 60.0
    resources: Resources | None = None
    # where the app's module is imported from, and the command's working folder
    path: tuple[str, ...] = ()
    cwd: str | None = None
    # the registered MLflow model versions the config names (``models:/churn@champion``),
    # resolved when the revision was made: {"uri", "name", "version", "source"}
    models: tuple[Mapping[str, Any], ...] = ()
    executor: str = "local"
    # the Ray cluster of a ``ray`` revision (None: PAUTA_RAY_ADDRESS, else Ray's own default)
    ray_address: str | None = None
    # where the replicas run: None (pauta's interpreter), "venv" or "container", as for tasks
    isolation: str | None = None
    requirements: tuple[str, ...] = ()
    python: str | None = None
    image: str | None = None

    @property
    def kind(self) -> str:
        return "app" if self.app is not None else "command"

    def describe(self) -> str:
        """The program in one line: ``app churn_service:create_app`` or the command."""
        if self.app is not None:
            return f"app {self.app}"
        return " ".join(self.command or ())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "app": self.app,
            "command": list(self.command) if self.command is not None else None,
            "config": dict(self.config),
            "replicas": self.replicas,
            "health": self.health,
            "ready_timeout": self.ready_timeout,
            "resources": self.resources.to_dict() if self.resources else None,
            "path": list(self.path),
            "cwd": self.cwd,
            "models": [dict(m) for m in self.models],
            "executor": self.executor,
            "ray_address": self.ray_address,
            "isolation": self.isolation,
            "requirements": list(self.requirements),
            "python": self.python,
            "image": self.image,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceSpec:
        """A stored spec (trusted: it was checked when it was made)."""
        resources = data.get("resources")
        command = data.get("command")
        return cls(
            app=data.get("app"),
            command=tuple(command) if command is not None else None,
            config=dict(data.get("config") or {}),
            replicas=int(data.get("replicas", 1)),
            health=data.get("health"),
            ready_timeout=float(data.get("ready_timeout", 60.0)),
            resources=Resources(**resources) if resources else None,
            path=tuple(data.get("path") or ()),
            cwd=data.get("cwd"),
            models=tuple(data.get("models") or ()),
            executor=str(data.get("executor") or "local"),
            ray_address=data.get("ray_address"),
            isolation=data.get("isolation"),
            requirements=tuple(data.get("requirements") or ()),
            python=data.get("python"),
            image=data.get("image"),
        )

    def same_program(self, other: ServiceSpec) -> bool:
        """Whether both run the same code (app or command, from the same place)."""
        return self._program() == other._program()

    def _program(self) -> tuple[Any, ...]:
        return (
            self.app,
            self.command,
            self.path,
            self.cwd,
            self.executor,
            self.isolation,
            self.requirements,
            self.python,
            self.image,
        )


def build_spec(
    *,
    app: object = None,
    command: object = None,
    config: object = None,
    replicas: object = 1,
    health: object = "/health",
    ready_timeout: object = 60.0,
    resources: object = None,
    path: Sequence[str] = (),
    cwd: str | None = None,
    executor: object = "local",
    ray_address: object = None,
    isolation: object = None,
    requirements: object = None,
    python: object = None,
    image: object = None,
) -> ServiceSpec:
    """A checked spec; ServiceSpecError saying what is wrong otherwise."""
    if (app is None) == (command is None):
        raise ServiceSpecError(
            "a service runs either app='module:factory' (an ASGI app factory) or command=[...] "
            "(a program that listens on $PORT): give exactly one"
        )
    if app is not None and (not isinstance(app, str) or not APP_REF.match(app)):
        raise ServiceSpecError(
            f"app must look like 'module:factory' (e.g. 'churn_service:create_app'), not {app!r}"
        )
    parts: tuple[str, ...] | None = None
    if command is not None:
        if isinstance(command, str) or not isinstance(command, Sequence) or not command:
            raise ServiceSpecError(
                f"command must be a non-empty list of strings (program and arguments), "
                f"not {command!r}"
            )
        if len(command) > MAX_COMMAND_ARGS or not all(
            isinstance(a, str) and a and "\x00" not in a for a in command
        ):
            raise ServiceSpecError(
                f"command must be at most {MAX_COMMAND_ARGS} non-empty strings without NUL"
            )
        parts = tuple(command)
    executor = _executor(executor, command=parts, ray_address=ray_address)
    isolated = _isolation(isolation, executor, requirements, python, image)
    return ServiceSpec(
        app=app if isinstance(app, str) else None,
        command=parts,
        config=_config(config),
        replicas=_replicas(replicas),
        health=_health(health),
        ready_timeout=_timeout(ready_timeout),
        resources=_resources(resources),
        path=tuple(path),
        cwd=cwd,
        executor=executor,
        ray_address=ray_address if isinstance(ray_address, str) and ray_address else None,
        isolation=isolated[0],
        requirements=isolated[1],
        python=isolated[2],
        image=isolated[3],
    )


def _isolation(
    isolation: object, executor: str, requirements: object, python: object, image: object
) -> tuple[str | None, tuple[str, ...], str | None, str | None]:
    """(isolation, requirements, python, image) checked as a task's are."""
    if isolation is not None and isolation not in ISOLATIONS:
        raise ServiceSpecError(
            f"isolation must be 'venv', 'container' or None (pauta's own interpreter), "
            f"not {isolation!r}"
        )
    if isolation is not None and executor == "ray":
        raise ServiceSpecError(
            "isolation= is for the local supervisor's replicas; on Ray the replicas run in "
            "the cluster's Python (give the cluster the app's libraries)"
        )
    kind = str(isolation) if isolation is not None else "process"
    try:
        needs, interpreter = venv_options(requirements, python, kind, "services.deploy")
        found = container_image(image, kind, "services.deploy")
    except DefinitionError as exc:
        raise ServiceSpecError(str(exc).replace("this task has", "this service has")) from None
    return (str(isolation) if isolation is not None else None), needs, interpreter, found


def _executor(executor: object, *, command: object, ray_address: object) -> str:
    if executor not in EXECUTORS:
        raise ServiceSpecError(
            f"executor must be one of {', '.join(map(repr, EXECUTORS))}, not {executor!r}"
        )
    if ray_address is not None and (not isinstance(ray_address, str) or not ray_address.strip()):
        raise ServiceSpecError(
            f"ray_address must be a Ray address such as 'HOST:6379', not {ray_address!r}"
        )
    if executor != "ray":
        if ray_address is not None:
            raise ServiceSpecError("ray_address is for executor='ray': add executor='ray'")
        return "local"
    if command is not None:
        raise ServiceSpecError(
            "on Ray a service runs app='module:factory' (Ray Serve serves an ASGI app); "
            "command=[...] runs only with the local supervisor"
        )
    return "ray"


def _config(config: object) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ServiceSpecError(f"config must be a dict, not {type(config).__name__}")
    try:
        text = json.dumps(dict(config), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ServiceSpecError(
            f"config must be JSON (strings, numbers, lists, dicts): {exc}"
        ) from None
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ServiceSpecError(
            f"config is over {MAX_CONFIG_BYTES // 1024} KiB of JSON: pass large data as a path"
        )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _replicas(replicas: object) -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise ServiceSpecError(f"replicas must be a whole number, not {replicas!r}")
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ServiceSpecError(f"replicas must be from 1 to {MAX_REPLICAS}, not {replicas}")
    return replicas


def _health(health: object) -> str | None:
    if health is None:
        return None
    if (
        not isinstance(health, str)
        or not health.startswith("/")
        or len(health) > 512
        or any(ch.isspace() or ord(ch) < 32 for ch in health)
    ):
        raise ServiceSpecError(
            f"health must be a path such as '/health' (or None: ready once it accepts "
            f"connections), not {health!r}"
        )
    return health


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ServiceSpecError(f"ready_timeout must be a number of seconds, not {value!r}")
    if not 0 < value <= MAX_READY_TIMEOUT_S:
        raise ServiceSpecError(
            f"ready_timeout must be more than 0 and at most {MAX_READY_TIMEOUT_S:g} seconds"
        )
    return float(value)


def _resources(value: object) -> Resources | None:
    if value is None or isinstance(value, Resources):
        return value
    if isinstance(value, Mapping):
        try:
            return Resources(**value)
        except (TypeError, ValueError) as exc:
            raise ServiceSpecError(f"resources: {exc}") from None
    raise ServiceSpecError(f"resources must be Resources(...) or a dict, not {value!r}")
