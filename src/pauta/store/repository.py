"""``Store``: the narrow interface to the metadata database, on SQLite or PostgreSQL.

Everything goes in and out as the plain records of ``pauta.store.records``; no SQLAlchemy
object leaves the store. State changes go through ``pauta.store.transitions``. The store is
split by aggregate: ``flows`` (flows and pools), ``runs`` (flow runs and leases), ``calls``
(task calls, attempts, metrics, artifacts), with ``folded`` (calls folded by map, and paged)
and ``series`` (metrics shaped for charts) reading the same tables for pages; ``outbox`` (the
MLflow mirror still to be sent); ``auth`` and ``events`` keep their own tables; ``steering``
marks and clears calls of finished runs.
"""

from __future__ import annotations

from pauta.store.calls import TaskCallsStore
from pauta.store.flows import FlowsStore
from pauta.store.folded import FoldedCallsStore
from pauta.store.outbox import OutboxStore
from pauta.store.rows import DuplicateRunError, flow_run_from_row
from pauta.store.runs import RunsStore
from pauta.store.series import MetricSeriesStore
from pauta.store.steering import SteeringStore

__all__ = ["DuplicateRunError", "Store", "flow_run_from_row"]


class Store(
    FlowsStore,
    RunsStore,
    TaskCallsStore,
    FoldedCallsStore,
    MetricSeriesStore,
    SteeringStore,
    OutboxStore,
):
    """The metadata store. Opening it migrates the schema when needed (``migrate=False`` skips).

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/pauta.db`` or
    ``postgresql+psycopg://user@host/db``. Safe to share between threads.
    """
