"""pauta's states as MLflow run statuses, and the tags that find a mirrored run again."""

from __future__ import annotations

RUN_ID_TAG = "pauta.run_id"
KEY_TAG = "pauta.key"
KIND_TAG = "pauta.kind"
FLOW_TAG = "pauta.flow"
TRIGGER_TAG = "pauta.trigger"
LOGICAL_DATE_TAG = "pauta.logical_date"
STATE_TAG = "pauta.state"

_STATUS = {
    "SUCCEEDED": "FINISHED",
    "CACHED": "FINISHED",
    "FAILED": "FAILED",
    "UPSTREAM_FAILED": "KILLED",
    "SKIPPED": "KILLED",
    "CANCELLED": "KILLED",
    "RUNNING": "RUNNING",
    "RETRYING": "RUNNING",
    "WAITING": "RUNNING",
    "QUEUED": "SCHEDULED",
    "PENDING": "SCHEDULED",
    "SCHEDULED": "SCHEDULED",
}

TERMINAL_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})


def mlflow_status(state: str) -> str:
    """The MLflow status of a pauta run or call state (FAILED for one it does not know)."""
    return _STATUS.get(state, "FAILED")
