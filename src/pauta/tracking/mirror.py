"""Sending outbox items to MLflow, through its tracking client (imported here, and only when
the mirror runs).

Every item can be sent twice without harm: a run is created once (its MLflow id is kept in
``mlflow_runs``; before creating one the mirror also looks for a run with the same pauta tags,
in case a process died between creating it and remembering it); MLflow keeps one copy of a
metric with the same name, value, time and step; params, tags and artifacts are overwritten
with the same values.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pauta.core.errors import RunNotFoundError
from pauta.store.outbox import OutboxItem
from pauta.store.repository import Store
from pauta.store.results import open_uri
from pauta.tracking.status import (
    FLOW_TAG,
    KEY_TAG,
    KIND_TAG,
    LOGICAL_DATE_TAG,
    RUN_ID_TAG,
    STATE_TAG,
    TRIGGER_TAG,
    mlflow_status,
)

# MLflow's refusals of one item (it will never take it); anything else is taken for an outage
_REFUSED = frozenset(
    {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE"}
)
_BATCH = 900  # MLflow takes at most 1000 metrics in one log-batch
_PARAM_MAX = 6000


class Refused(Exception):
    """MLflow refused an item for good (a param changed its value, a name it does not take)."""


def refused(exc: BaseException) -> bool:
    """Whether sending again could never work: MLflow refused the item, its run or its file
    is gone, or the item itself is malformed. Anything else (the network, MLflow's own
    errors, a busy store) is an outage, retried later."""
    if isinstance(exc, MlflowException):
        return exc.error_code in _REFUSED
    return isinstance(exc, RunNotFoundError | FileNotFoundError | KeyError | TypeError)


def quiet_client_retries() -> None:
    """The client's own retries would hold the sender for minutes on an outage; the sender has
    its own backoff. A value the user set is kept."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    quiet_client_output()


def quiet_client_output() -> None:
    """MLflow prints a "View run" line per ended run on stdout: not in pauta's output."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_PARAM_MAX]


_FINDING_TAGS = (RUN_ID_TAG, KIND_TAG, KEY_TAG)


def find_run(client: MlflowClient, experiment_id: str, tags: dict[str, str]) -> str | None:
    """The MLflow run with the pauta run id, kind and key of ``tags`` (the oldest, should two
    processes have created one each), or None."""
    query = " and ".join(f"tags.`{k}` = '{_quoted(tags[k])}'" for k in _FINDING_TAGS if k in tags)
    found = client.search_runs(
        [experiment_id], query, max_results=1, order_by=["attributes.start_time ASC"]
    )
    return str(found[0].info.run_id) if found else None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def find_or_create_run(
    client: MlflowClient,
    experiment_id: str,
    tags: dict[str, str],
    *,
    name: str,
    start_time: int | None = None,
) -> str:
    """The MLflow run carrying ``tags`` (the pauta run id, kind and key), created if none."""
    found = find_run(client, experiment_id, tags)
    if found is not None:
        return found
    run = client.create_run(experiment_id, start_time=start_time, tags=tags, run_name=name)
    return str(run.info.run_id)


def experiment_for(client: MlflowClient, flow: str) -> str:
    """The experiment named after the flow, created on first use."""
    found = client.get_experiment_by_name(flow)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(flow))
    except MlflowException:
        found = client.get_experiment_by_name(flow)  # another process created it meanwhile
        if found is None:
            raise
        return str(found.experiment_id)


class Mirror:
    """Sends a store's outbox items to the MLflow server at ``tracking_uri``."""

    def __init__(self, store: Store, tracking_uri: str) -> None:
        quiet_client_retries()
        self.store = store
        self.client = MlflowClient(tracking_uri)
        self._runs: dict[tuple[str, str], tuple[str, str]] = {}

    def flow_run(self, run_id: str, start_time: int | None = None) -> tuple[str, str]:
        """(MLflow run id, experiment id) of a flow run, created on first need."""
        known = self._known(run_id, "")
        if known is not None:
            return known
        rec = self.store.get_flow_run(run_id)
        experiment = experiment_for(self.client, rec.flow)
        tags = {RUN_ID_TAG: run_id, KIND_TAG: "flow"}
        mlflow_id = find_or_create_run(
            self.client, experiment, tags, name=f"{rec.flow}-{run_id}", start_time=start_time
        )
        return self._remember(run_id, "", mlflow_id, experiment)

    def task_run(self, run_id: str, key: str, start_time: int | None = None) -> str:
        """The nested MLflow run of one task call, named by its label (or key)."""
        known = self._known(run_id, key)
        if known is not None:
            return known[0]
        parent, experiment = self.flow_run(run_id)
        name, label = self.store.call_labels(run_id).get(key, (key, None))
        tags = {
            RUN_ID_TAG: run_id,
            KIND_TAG: "task",
            KEY_TAG: key,
            "mlflow.parentRunId": parent,
            "pauta.task": name,
        }
        mlflow_id = find_or_create_run(
            self.client, experiment, tags, name=label or key, start_time=start_time
        )
        self.client.set_tag(mlflow_id, "mlflow.runName", label or key)
        return self._remember(run_id, key, mlflow_id, experiment)[0]

    def _known(self, run_id: str, key: str) -> tuple[str, str] | None:
        known = self._runs.get((run_id, key))
        if known is None:
            stored = self.store.mlflow_runs(run_id)
            for k, value in stored.items():
                self._runs[(run_id, k)] = value
            known = stored.get(key)
        return known

    def _remember(self, run_id: str, key: str, mlflow_id: str, experiment: str) -> tuple[str, str]:
        self.store.remember_mlflow_run(run_id, key, mlflow_id, experiment)
        self._runs[(run_id, key)] = (mlflow_id, experiment)
        return mlflow_id, experiment

    def send(self, items: Sequence[OutboxItem]) -> None:
        """Send items in order, deleting each group once MLflow has it. Raises on an outage
        (what was sent stays sent); an item MLflow refuses is dropped with ``Refused``
        raised after the rest of its group was sent."""
        for group in _groups(items):
            try:
                self._send_group(group)
            except Exception as exc:
                if not refused(exc):
                    raise
                self.store.delete_outbox(item.id for item in group)
                raise Refused(f"{group[0].kind} of run {group[0].flow_run_id}: {exc}") from exc
            self.store.delete_outbox(item.id for item in group)

    def _send_group(self, group: list[OutboxItem]) -> None:
        first = group[0]
        run_id, kind, payload = first.flow_run_id, first.kind, first.payload
        if kind == "run":
            self._send_run(run_id, payload)
        elif kind == "run_state":
            mlflow_id, _ = self.flow_run(run_id)
            self._set_status(mlflow_id, payload["state"], payload["at"])
        elif kind == "metric":
            mlflow_id = self.task_run(run_id, payload["key"], payload["at"])
            metrics = [
                Metric(
                    i.payload["name"], i.payload["value"], i.payload["at"], i.payload["step"] or 0
                )
                for i in group
            ]
            self.client.log_batch(mlflow_id, metrics=metrics)
        elif kind == "param":
            mlflow_id = self.task_run(run_id, payload["key"])
            # one value per name in a request (MLflow refuses a batch that repeats a key)
            values = {i.payload["name"]: _text(i.payload["value"]) for i in group}
            params = [Param(name, value) for name, value in values.items()]
            self.client.log_batch(mlflow_id, params=params)
        elif kind == "artifact":
            self._send_artifact(self.task_run(run_id, payload["key"]), payload)
        elif kind == "task_state":
            mlflow_id = self.task_run(run_id, payload["key"], payload["at"])
            self._set_status(mlflow_id, payload["state"], payload["at"])

    def _send_run(self, run_id: str, payload: dict[str, Any]) -> None:
        mlflow_id, _ = self.flow_run(run_id, payload["at"])
        tags = [
            RunTag(FLOW_TAG, payload["flow"]),
            RunTag(TRIGGER_TAG, payload["trigger"]),
            RunTag(LOGICAL_DATE_TAG, payload["logical_date"]),
        ]
        params = [Param(str(k), _text(v)) for k, v in sorted(payload["params"].items())]
        self.client.log_batch(mlflow_id, params=params, tags=tags)

    def _set_status(self, mlflow_id: str, state: str, at: int) -> None:
        status = mlflow_status(state)
        self.client.set_tag(mlflow_id, STATE_TAG, state)
        if status in ("FINISHED", "FAILED", "KILLED"):
            self.client.set_terminated(mlflow_id, status, end_time=at)
        else:
            self.client.update_run(mlflow_id, status=status)

    def _send_artifact(self, mlflow_id: str, payload: dict[str, Any]) -> None:
        suffix = {"file": "", "pickle": ".pkl", "numpy": ".npy"}.get(payload["serializer"], "")
        with tempfile.TemporaryDirectory(prefix="pauta-mlflow-") as folder:
            path = Path(folder) / (file_name(payload["name"]) + suffix)
            copy_stored(payload["uri"], path)
            self.client.log_artifact(mlflow_id, str(path))


def copy_stored(uri: str, path: Path) -> None:
    """Copy a file of the result store (local or fsspec) to a local path."""
    with open_uri(uri) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)


def file_name(name: str) -> str:
    """An artifact's name as a file name MLflow shows as it is."""
    kept = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip(".")
    return kept or "artifact"


def _groups(items: Sequence[OutboxItem]) -> Iterator[list[OutboxItem]]:
    """Consecutive metrics (or params) of one call go in one request; the rest one by one."""
    group: list[OutboxItem] = []
    for item in items:
        if group and _joins(group, item):
            group.append(item)
            continue
        if group:
            yield group
        group = [item]
    if group:
        yield group


def _joins(group: list[OutboxItem], item: OutboxItem) -> bool:
    first = group[0]
    return (
        item.kind in ("metric", "param")
        and item.kind == first.kind
        and item.flow_run_id == first.flow_run_id
        and item.payload["key"] == first.payload["key"]
        and len(group) < _BATCH
    )
