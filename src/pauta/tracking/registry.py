"""``context().register_model``: a model version in MLflow's registry, from inside a task.

Registering is the one MLflow call a task waits for, since it returns the version: it needs
the server to answer (the run's own mirroring never does). The version is created from a file
or folder (uploaded to the task's MLflow run), from an artifact the task logged under that
name, or from a URI MLflow knows (``runs:/...``, ``models:/...``, ``s3://...``); the alias
``champion`` then moves to it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pauta.core.errors import PautaError
from pauta.core.settings import mlflow_tracking_uri
from pauta.tracking.status import KEY_TAG, KIND_TAG, RUN_ID_TAG

CHAMPION = "champion"
# how long a task waits for its flow run's MLflow run before creating it itself
_PARENT_WAIT = 20.0
ModelSink = Callable[[str, str], int]


def model_registrar(
    run_id: str, flow: str, key: str, task_name: str, logged: Callable[[], Mapping[str, str]]
) -> ModelSink | None:
    """What a task's ``register_model`` calls, or None when no MLflow is configured.
    ``logged`` gives the files of the artifacts the attempt logged so far, by name."""
    uri = mlflow_tracking_uri()
    if uri is None:
        return None

    def register(name: str, path_or_uri: str) -> int:
        stored = logged().get(path_or_uri)
        if stored is None:
            return register_model(uri, run_id, flow, key, task_name, name, path_or_uri)
        import tempfile

        from pauta.tracking.mirror import copy_stored, file_name

        # the logged artifact, under its own name (the store's file name is for the store)
        with tempfile.TemporaryDirectory(prefix="pauta-model-") as folder:
            path = Path(folder) / file_name(path_or_uri)
            copy_stored(stored, path)
            return register_model(uri, run_id, flow, key, task_name, name, str(path))

    return register


def _is_uri(text: str) -> bool:
    return "://" in text or text.startswith(("runs:/", "models:/", "mlflow-artifacts:/"))


def register_model(
    tracking_uri: str,
    run_id: str,
    flow: str,
    key: str,
    task_name: str,
    name: str,
    source: str,
) -> int:
    """Register ``source`` as a new version of model ``name``, move ``champion`` to it and
    return the version number."""
    if not _is_uri(source) and not os.path.exists(source):
        raise PautaError(
            f"register_model({name!r}, {source!r}): no such file or folder, and no artifact "
            "of this task has that name; pass a path, a logged artifact's name or a "
            "runs:/ or models:/ URI"
        )
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise PautaError(
            "register_model needs MLflow's client: pip install 'pauta[mlflow]'"
        ) from None
    from pauta.tracking.mirror import experiment_for, find_or_create_run, quiet_client_output

    quiet_client_output()
    client = MlflowClient(tracking_uri)
    try:
        experiment = experiment_for(client, flow)
        parent = _flow_run(client, experiment, run_id, flow)
        tags = {RUN_ID_TAG: run_id, KIND_TAG: "task", KEY_TAG: key}
        tags.update({"mlflow.parentRunId": parent, "pauta.task": task_name})
        mlflow_run = find_or_create_run(client, experiment, tags, name=key)
        if not _is_uri(source):
            source = _upload(client, mlflow_run, name, source)
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(
            name, source, run_id=mlflow_run, tags={RUN_ID_TAG: run_id, KEY_TAG: key}
        )
        client.set_registered_model_alias(name, CHAMPION, version.version)
    except MlflowException as exc:
        raise PautaError(
            f"MLflow at {tracking_uri} did not register model {name!r}: {exc.message}"
        ) from None
    return int(version.version)


def _flow_run(client: Any, experiment: str, run_id: str, flow: str) -> str:
    """The flow run's MLflow run: the one its driver's sender creates, waited for a little
    (that sender may still be starting), else created here."""
    from pauta.tracking.mirror import find_run

    tags = {RUN_ID_TAG: run_id, KIND_TAG: "flow"}
    deadline = time.monotonic() + _PARENT_WAIT
    while True:
        found = find_run(client, experiment, tags)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    return str(client.create_run(experiment, tags=tags, run_name=f"{flow}-{run_id}").info.run_id)


def _upload(client: Any, mlflow_run: str, name: str, path: str) -> str:
    """Upload a model file or folder to the task's MLflow run; its artifact URI."""
    folder = f"models/{name}"
    if os.path.isdir(path):
        client.log_artifacts(mlflow_run, path, folder)
        return f"{client.get_run(mlflow_run).info.artifact_uri}/{folder}"
    client.log_artifact(mlflow_run, path, folder)
    base = os.path.basename(path)
    return f"{client.get_run(mlflow_run).info.artifact_uri}/{folder}/{base}"


def _model_uris(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("models:/") else []
    if isinstance(value, Mapping):
        return [uri for item in value.values() for uri in _model_uris(item)]
    if isinstance(value, list | tuple):
        return [uri for item in value for uri in _model_uris(item)]
    return []


def served_models(config: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The registered model versions a service's config names (``models:/churn@champion``,
    ``models:/churn/3``), resolved now: the revision records the version it serves even after
    the alias moves on. Empty when the config names none; PautaError when it names one and
    MLflow is not configured or does not know it."""
    uris = list(dict.fromkeys(_model_uris(config)))
    if not uris:
        return ()
    tracking_uri = mlflow_tracking_uri()
    if tracking_uri is None:
        raise PautaError(
            f"the config names a registered model ({uris[0]}): set PAUTA_MLFLOW_TRACKING_URI "
            "to the MLflow server that holds it, so the revision can record its version"
        )
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise PautaError("resolving models:/ URIs needs pip install 'pauta[mlflow]'") from None
    client = MlflowClient(tracking_uri)
    found = []
    for uri in uris:
        name, _, which = uri.removeprefix("models:/").partition("/")
        name, at, alias = name.partition("@")
        try:
            if at:
                version = client.get_model_version_by_alias(name, alias)
            elif which.isdigit():
                version = client.get_model_version(name, which)
            else:
                raise PautaError(
                    f"{uri}: name a version (models:/{name}/3) or an alias "
                    f"(models:/{name}@{CHAMPION})"
                )
        except MlflowException as exc:
            raise PautaError(
                f"MLflow at {tracking_uri} cannot resolve {uri}: {exc.message}"
            ) from None
        found.append(
            {"uri": uri, "name": name, "version": int(version.version), "source": version.source}
        )
    return tuple(found)
