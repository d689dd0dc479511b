"""The nightly warehouse load: the day's orders from the shop's MariaDB into the PostgreSQL
warehouse, a Parquet snapshot of the day, and the ``warehouse_orders`` asset updated.

Connections are named, so no credentials are written here::

    pauta connections add shop mysql://root@127.0.0.1:3306/shop
    pauta connections add warehouse postgresql://postgres@127.0.0.1:5432/warehouse
    pauta run examples/warehouse_etl.py:warehouse_etl -p day=2026-12-01 -p snapshots=/tmp/lake

``snapshots`` is a folder or any fsspec URL (``s3://lake/orders``). A flow scheduled with
``schedule=on_asset("warehouse_orders")`` (the weekly training) runs after each load.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pauta import Asset, flow, task
from pauta.operators import sql_to_parquet, transfer

WAREHOUSE_ORDERS = Asset("warehouse_orders")

ORDER_COLUMNS = "id, customer, amount, status, created_at"


@task
def the_day(day: str | None) -> str:
    """The day to load: ``day`` checked as an ISO date, or yesterday (UTC) when not given.

    A task, so that a replayed run loads the day it started with."""
    if day is None:
        return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    return date.fromisoformat(day).isoformat()


def day_query(table: str, day: str) -> str:
    # transfer takes a query, not parameters: the day is pasted only after the_day parsed it
    # as a date (its ISO form holds digits and dashes only), so no text of a caller gets in
    start = date.fromisoformat(day)
    end = start + timedelta(days=1)
    return (
        f"SELECT {ORDER_COLUMNS} FROM {table} "
        f"WHERE created_at >= '{start.isoformat()}' AND created_at < '{end.isoformat()}'"
    )


@task(outputs=[WAREHOUSE_ORDERS])
def publish(day: str, loaded: Any, snapshot: Any, url: str) -> dict[str, Any]:
    """The load's summary; its success updates the ``warehouse_orders`` asset."""
    if loaded.rows != snapshot.rows:
        raise RuntimeError(
            f"{day}: {loaded.rows} rows loaded but {snapshot.rows} in the snapshot {url}"
        )
    return {"day": day, "rows": loaded.rows, "snapshot": url}


# Nightly in a deployment: @flow(schedule="30 1 * * *"). Not scheduled here, so the demo server
# (which serves this folder) does not run it every night without its two connections.
@flow
def warehouse_etl(
    day: str | None = None,
    snapshots: str = "./snapshots",
    source: str = "shop",
    warehouse: str = "warehouse",
) -> dict[str, Any]:
    """Load one day of orders (upsert on ``id``: a re-run leaves one copy of each row)."""
    which = the_day(day).result()
    loaded = transfer.with_options(retries=2, retry_delay=30)(
        source, day_query("orders", which), warehouse, "orders", mode="upsert", key="id"
    )
    url = f"{snapshots.rstrip('/')}/orders-{which}.parquet"
    snapshot = sql_to_parquet(warehouse, day_query("orders", which), url, wait_for=[loaded])
    return publish(which, loaded, snapshot, url).result()
