"""The peer-comparison workloads for Dagster: `python dagster_flows.py FLOW N`.

Each workload is a job of ops run with `execute_in_process` against the persistent
DagsterInstance in DAGSTER_HOME (SQLite run, event log and schedule storage).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from dagster import DagsterInstance, In, JobDefinition, Nothing, OpDefinition, job, op


@op(ins={"upstream": In(Nothing)})
def noop() -> None:
    return None


@op(ins={"upstream": In(Nothing)})
def sink() -> None:
    return None


def train_op(seed: int) -> OpDefinition:
    """An op that fits a small random forest on the digits data that ships with scikit-learn."""

    @op(name=f"train_{seed}")
    def train() -> float:
        # Imported here, as in every tool's workload, so the no-op flows do not pay for it.
        from sklearn.datasets import load_digits
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import train_test_split

        features, labels = load_digits(return_X_y=True)
        x_train, x_test, y_train, y_test = train_test_split(
            features, labels, test_size=0.25, random_state=seed
        )
        model = RandomForestClassifier(n_estimators=25, random_state=seed).fit(x_train, y_train)
        return float(model.score(x_test, y_test))

    return train


def chain(n: int) -> JobDefinition:
    """n no-op ops, each depending on the previous one."""

    @job(name=f"chain_{n}")
    def chain_job() -> None:
        previous = noop.alias("noop_0")()
        for i in range(1, n):
            previous = noop.alias(f"noop_{i}")(upstream=previous)

    return chain_job


def fanout(n: int) -> JobDefinition:
    """One source, n parallel no-ops that depend on it, one sink that waits for all of them."""

    @job(name=f"fanout_{n}")
    def fanout_job() -> None:
        source = noop.alias("source")()
        middle = [noop.alias(f"noop_{i}")(upstream=source) for i in range(n)]
        sink(upstream=middle)

    return fanout_job


def ml(n: int) -> JobDefinition:
    """n small models, independent of each other."""

    @job(name=f"ml_{n}")
    def ml_job() -> None:
        for seed in range(n):
            train_op(seed)()

    return ml_job


def startup(n: int) -> JobDefinition:
    @job(name="startup")
    def startup_job() -> None:
        noop()

    return startup_job


JOBS: dict[str, Callable[[int], JobDefinition]] = {
    "chain": chain,
    "fanout": fanout,
    "ml": ml,
    "startup": startup,
}

if __name__ == "__main__":
    definition = JOBS[sys.argv[1]](int(sys.argv[2]))
    result = definition.execute_in_process(instance=DagsterInstance.get())
    if not result.success:
        sys.exit(1)
