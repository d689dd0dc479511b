"""``context().register_model``: a model version in MLflow's registry, from inside a task.

Registering is the one MLflow call a task waits for, since it returns the version: it needs
the server to answer (the run's own mirroring never does). The version is created from a file
or folder (uploaded to the task's MLflow run), from an artifact the task logged under that
name, or from a URI MLflow knows (``runs:/...``, ``models:/...``, ``s3://...``); the alias
``champion`` then moves to it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pauta.core.errors import PautaError
from pauta.core.settings import mlflow_tracking_uri

CHAMPION = "champion"
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
    from pauta.tracking.status import KEY_TAG, KIND_TAG, RUN_ID_TAG

    quiet_client_output()
    client = MlflowClient(tracking_uri)
    try:
        experiment = experiment_for(client, flow)
        parent = find_or_create_run(
            client, experiment, {RUN_ID_TAG: run_id, KIND_TAG: "flow"}, name=f"{flow}-{run_id}"
        )
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


def _upload(client: Any, mlflow_run: str, name: str, path: str) -> str:
    """Upload a model file or folder to the task's MLflow run; its artifact URI."""
    folder = f"models/{name}"
    if os.path.isdir(path):
        client.log_artifacts(mlflow_run, path, folder)
        return f"{client.get_run(mlflow_run).info.artifact_uri}/{folder}"
    client.log_artifact(mlflow_run, path, folder)
    base = os.path.basename(path)
    return f"{client.get_run(mlflow_run).info.artifact_uri}/{folder}/{base}"
