"""The peer-comparison workloads for Apache Airflow: `python airflow_flows.py FLOW N`.

Each workload is a DAG of TaskFlow tasks run with `dag.test()`, which runs every task in this
process against the metadata database in AIRFLOW_HOME (SQLite, migrated once beforehand).
`dag.test()` only runs a DAG it finds in the DAGs folder, so this folder must be
AIRFLOW__CORE__DAGS_FOLDER, and the module builds the one DAG named by FLOW and N (passed on
to the DAG-folder parse through the environment).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

START = datetime(2024, 1, 1)


@task
def noop() -> None:
    return None


@task
def train(seed: int) -> float:
    """Fit a small random forest on the digits data that ships with scikit-learn."""
    # Imported here, as in every tool's workload, so that the no-op flows do not pay for it.
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    features, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.25, random_state=seed
    )
    model = RandomForestClassifier(n_estimators=25, random_state=seed).fit(x_train, y_train)
    return float(model.score(x_test, y_test))


def new_dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False)


def chain(n: int) -> DAG:
    """n no-op tasks, each depending on the previous one."""
    with new_dag(f"chain_{n}") as dag:
        previous = noop.override(task_id="noop_0")()
        for i in range(1, n):
            current = noop.override(task_id=f"noop_{i}")()
            previous >> current
            previous = current
    return dag


def fanout(n: int) -> DAG:
    """One source, n parallel no-ops that depend on it, one sink that waits for all of them."""
    with new_dag(f"fanout_{n}") as dag:
        source = noop.override(task_id="source")()
        middle = [noop.override(task_id=f"noop_{i}")() for i in range(n)]
        sink = noop.override(task_id="sink")()
        source >> middle
        middle >> sink
    return dag


def ml(n: int) -> DAG:
    """n small models, independent of each other."""
    with new_dag(f"ml_{n}") as dag:
        for seed in range(n):
            train.override(task_id=f"train_{seed}")(seed)
    return dag


def startup(n: int) -> DAG:
    with new_dag("startup") as dag:
        noop()
    return dag


DAGS: dict[str, Callable[[int], DAG]] = {
    "chain": chain,
    "fanout": fanout,
    "ml": ml,
    "startup": startup,
}

if __name__ == "__main__":
    os.environ["BENCH_FLOW"], os.environ["BENCH_N"] = sys.argv[1], sys.argv[2]

# Module level, so that the DAG-folder parse inside dag.test() finds the same DAG.
dag = DAGS[os.environ.get("BENCH_FLOW", "startup")](int(os.environ.get("BENCH_N", "1")))

if __name__ == "__main__":
    run = dag.test()
    if str(run.state) not in ("success", "DagRunState.SUCCESS"):
        sys.exit(1)
