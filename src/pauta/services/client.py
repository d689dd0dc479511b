"""``services.deploy`` and ``services.get``: what a task calls."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.definitions.context import context, current_context
from pauta.services import control
from pauta.services.errors import ServiceSpecError
from pauta.services.spec import build_spec, check_name
from pauta.store.repository import Store
from pauta.store.services import RevisionRecord
from pauta.tracking.registry import served_models


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """One replica as the supervisor last reported it."""

    revision: int
    index: int
    state: str
    pid: int | None
    port: int | None
    restarts: int
    health: str
    last_exit: str | None


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A service: the revision serving now, its stable address, its replicas."""

    name: str
    revision: str | None
    """The id of the revision serving now (``NAME@N``), None when none serves."""
    address: str
    state: str
    replicas: tuple[ReplicaInfo, ...]
    restarts: int
    traffic: Mapping[str, Any]


def _store() -> Store:
    return Store.from_settings(Settings.from_env())


def _module_path(app: object) -> tuple[str, ...]:
    """The folder the app's top module is imported from here, for the replicas to use too."""
    if not isinstance(app, str) or ":" not in app:
        return ()  # build_spec says what is wrong
    top = app.partition(":")[0].split(".")[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ServiceSpecError(
            f"cannot find module {top!r} from here: put it beside the flow file (or install "
            "it) so that the service's replicas can import it"
        )
    if found.submodule_search_locations:
        return (str(Path(next(iter(found.submodule_search_locations))).parent),)
    if found.origin and found.has_location:
        return (str(Path(found.origin).parent),)
    return ()


def _created_by() -> str:
    ctx = current_context()
    if ctx is not None and ctx.run_id:
        return f"run {ctx.run_id} {ctx.task_key or ctx.flow_name or ''}".strip()
    return "services.deploy"


def deploy(
    name: str,
    *,
    app: str | None = None,
    command: Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    replicas: int = 1,
    port: int | None = None,
    health: str | None = "/health",
    ready_timeout: float = 60,
    resources: Resources | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    isolation: str | None = None,
    requirements: Sequence[str] | None = None,
    python: str | None = None,
    image: str | None = None,
) -> str:
    """Deploy a new revision of the service ``name`` and wait until it serves; its id.

    ``app="module:factory"`` names an ASGI app factory, called with ``config`` in each replica
    (the module is imported from where it is found here: beside the flow file, or installed);
    ``command=[...]`` is any program that listens on ``$PORT`` (``$PORT`` in an argument is
    replaced by it), run in this folder with ``PAUTA_SERVICE_CONFIG`` (the config as JSON) in
    its environment. ``port`` is the service's stable address, chosen on the first deploy
    (default: the first free port from 8600) and never changed. The revision serves once each
    of its ``replicas`` answered ``health`` (a path; None: accepting connections is enough)
    within ``ready_timeout`` seconds; traffic then moves to it with no failed request. A
    revision that is not ready in time is rolled back, the previous one keeps serving, and
    this raises ``DeployFailed`` with the failing replica's log tail.

    ``executor="ray"`` deploys the app with Ray Serve on the cluster at ``ray_address``
    (default: ``PAUTA_RAY_ADDRESS``, else Ray's own default): one Serve application named
    ``name``, answering under ``/name`` at Serve's HTTP address (``port`` does not apply);
    see docs/services.md for what differs from the local supervisor.

    ``isolation="venv"`` (with ``requirements`` and ``python``) runs each replica in the
    virtualenv a ``venv`` task with the same requirements uses (built once, shared);
    ``isolation="container"`` with ``image=`` runs each replica in a container of that image,
    its port published on 127.0.0.1. pauta's runtime and uvicorn are made importable inside.
    """
    check_name(name)
    if executor == "ray":
        if port is not None:
            raise ServiceSpecError(
                "on Ray a service answers at Ray Serve's HTTP address under /NAME, not on a "
                "port of its own: leave port out (PAUTA_RAY_SERVE_PORT sets Serve's port)"
            )
        ray_address = ray_address or Settings.from_env().ray_address
    spec = build_spec(
        app=app,
        command=command,
        config=config,
        replicas=replicas,
        health=health,
        ready_timeout=ready_timeout,
        resources=resources,
        path=_module_path(app) if app is not None else (),
        cwd=os.getcwd(),
        executor=executor,
        ray_address=ray_address,
        isolation=isolation,
        requirements=requirements,
        python=python,
        image=image,
    )
    try:
        spec = replace(spec, models=served_models(spec.config))
    except PautaError as exc:
        raise ServiceSpecError(str(exc)) from None
    logger = context().logger
    store = _store()
    try:
        revision = control.record_revision(store, name, spec, port=port, created_by=_created_by())
        logger.info(
            "deploying %s (%s, %d replica%s)",
            revision.id,
            spec.describe(),
            spec.replicas,
            "" if spec.replicas == 1 else "s",
        )

        def said(found: RevisionRecord) -> None:
            logger.info("%s is %s", found.id, found.state)

        final = control.wait_for(
            store,
            name,
            revision.revision,
            timeout=control.wait_timeout(spec),
            on_state=said,
        )
        control.check_served(final)
        logger.info("%s serves on %s", final.id, control.show(store, name)["address"])
        return final.id
    finally:
        store.close()


def get(name: str) -> ServiceInfo:
    """The service ``name``: the revision serving now, its address and its replicas' states."""
    check_name(name)
    store = _store()
    try:
        view = control.show(store, name, limit=1)
    finally:
        store.close()
    return ServiceInfo(
        name=view["name"],
        revision=view["revision_id"],
        address=view["address"],
        state=view["state"],
        replicas=tuple(
            ReplicaInfo(
                revision=int(r["revision"]),
                index=int(r["index"]),
                state=str(r["state"]),
                pid=r.get("pid"),
                port=r.get("port"),
                restarts=int(r.get("restarts") or 0),
                health=str(r.get("health") or ""),
                last_exit=r.get("last_exit"),
            )
            for r in view["replicas"]
        ),
        restarts=int(view["restarts"]),
        traffic=view["traffic"],
    )
