"""The pauta side of docs/from-airflow.md: each of Airflow's tutorial DAGs as a pauta flow.

Run any of them with ``pauta run examples/from_airflow.py:FLOW`` (tests/examples runs them all).
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from pauta import Asset, context, flow, group, on_asset, task

# -- 1. The tutorial: three shell steps, the second two after the first -------------------------


@task(retries=3, retry_delay=timedelta(minutes=5))
def print_date() -> str:
    return subprocess.run(["date", "-u"], capture_output=True, text=True, check=True).stdout


@task
def sleep(seconds: int) -> int:
    subprocess.run(["sleep", str(seconds)], check=True)
    return seconds


@task
def templated(day: str) -> list[str]:
    lines = []
    for i in range(5):
        lines.append(f"{day} {i}")
        print(lines[-1])  # each line goes to the task's log
    return lines


@flow
def tutorial(sleep_seconds: int = 1) -> dict[str, Any]:
    """t1 >> [t2, t3]: print the date, then sleep and echo in parallel."""
    first = print_date()
    slept = sleep(sleep_seconds, wait_for=[first])
    echoed = templated(context().logical_date.date().isoformat(), wait_for=[first])
    return {"slept": slept.result(), "echoed": echoed.result()}


# -- 2. The TaskFlow tutorial: extract, transform, load --------------------------------------


@task(retries=2)
def extract() -> dict[str, float]:
    return json.loads('{"1001": 301.27, "1002": 433.21, "1003": 502.22}')


@task
def transform(orders: dict[str, float]) -> dict[str, float]:
    return {"total_order_value": round(sum(orders.values()), 2)}


@task
def load(summary: dict[str, float]) -> str:
    line = f"Total order value is: {summary['total_order_value']:.2f}"
    print(line)
    return line


@flow
def taskflow_etl() -> str:
    """Values pass between tasks as plain arguments: no XCom to push or pull."""
    return load(transform(extract())).result()


# -- 3. Dynamic task mapping: one call per item, then a reduce ----------------------------------


@task
def add_one(x: int) -> int:
    return x + 1


@task
def sum_it(values: list[int]) -> int:
    return sum(values)


@flow
def mapping(items: list[int] | None = None) -> int:
    """``add_one.expand(x=[1, 2, 3])`` is ``add_one.map([1, 2, 3])``; the list may come from a
    task, known only at run time."""
    added = add_one.map(items or [1, 2, 3])
    return sum_it(added).result()


# -- 4. Branching: an if in the body instead of a branch operator -------------------------------


@task
def choose_kind(day_of_week: int) -> str:
    return "weekday" if day_of_week < 5 else "weekend"


@task(label="report[{kind}]")
def report(kind: str) -> str:
    return f"{kind} report"


@flow
def branching(day_of_week: int = 0) -> str:
    """The branch not taken is simply never called: nothing to skip or to join."""
    kind = choose_kind(day_of_week).result()
    if kind == "weekday":
        return report("weekday").result()
    return report("weekend").result()


# -- 5. Setup and teardown: the cluster is deleted whatever happens ----------------------------


@task
def create_cluster(name: str) -> str:
    return f"cluster-{name}"


@task
def run_query(cluster: str, fail: bool) -> int:
    if fail:
        raise RuntimeError(f"the query on {cluster} failed")
    return 42


@task(teardown=True)
def delete_cluster(cluster: str | None) -> str:
    return f"deleted {cluster}"


@flow
def setup_teardown(fail: bool = False) -> int:
    """``delete_cluster`` is a teardown: it runs when the query fails or the run is cancelled,
    and its own failure would not change the outcome."""
    with group("analysis"):
        cluster = create_cluster("analytics")
        answer = run_query(cluster, fail)
        delete_cluster(cluster, wait_for=[answer])
    return answer.result()


# -- 6. Assets: a producer updates an asset, a consumer runs on it -----------------------------

ORDERS = Asset("orders_snapshot")


@task(outputs=[ORDERS])
def snapshot_orders() -> int:
    return 3


@flow
def produce_orders() -> int:
    return snapshot_orders().result()


@flow(schedule=on_asset(ORDERS))
def consume_orders() -> str:
    """Runs each time produce_orders updates the asset (under `pauta server`)."""
    return f"consumed for {context().trigger}"


# -- 7. Params: typed, validated, with help text in the trigger form ---------------------------


@flow
def params_example(
    rows: Annotated[int, Field(ge=1, le=1000, description="How many rows to read")] = 10,
    mode: Literal["full", "incremental"] = "incremental",
    notify: bool = False,
) -> dict[str, Any]:
    """Airflow's ``Param(10, type="integer", minimum=1)`` is a typed parameter with its bounds."""
    return {"rows": rows, "mode": mode, "notify": notify}
