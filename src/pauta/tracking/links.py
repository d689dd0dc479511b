"""Links to a run in MLflow's UI, for the run page, ``runs show --json`` and the API."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def mlflow_run_url(tracking_uri: str | None, experiment_id: str, mlflow_run_id: str) -> str | None:
    """The MLflow UI page of a run; None unless the tracking URI is an http(s) URL (a file
    or database URI has no page to link to)."""
    if not tracking_uri:
        return None
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    base = tracking_uri.rstrip("/")
    return (
        f"{base}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(mlflow_run_id, safe='')}"
    )
