"""The peer-comparison workloads for Prefect 3: `python prefect_flows.py FLOW N`.

Run with no PREFECT_API_URL, so Prefect starts its default ephemeral API server on SQLite
under PREFECT_HOME. Parallel tasks are submitted to the flow's default task runner (a thread
pool).
"""

from __future__ import annotations

import sys

from prefect import flow, task


@task
def noop(upstream: object = None) -> None:
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


@flow
def chain(n: int) -> None:
    """n no-op tasks, each taking the previous one's result.

    Called directly rather than submitted: a chain cannot run in parallel anyway, and direct
    calls were about 1.5-2x faster here than futures through the thread-pool task runner.
    """
    previous = noop()
    for _ in range(n - 1):
        previous = noop(previous)


@flow
def fanout(n: int) -> None:
    """One source, n parallel no-ops that depend on it, one sink that waits for all of them."""
    source = noop.submit()
    middle = [noop.submit(source) for _ in range(n)]
    noop.submit(wait_for=middle).result()


@flow
def ml(n: int) -> float:
    """n small models trained in parallel; returns the best test accuracy."""
    return max(future.result() for future in train.map(range(n)))


@flow
def startup(n: int) -> None:
    noop.submit().result()


FLOWS = {"chain": chain, "fanout": fanout, "ml": ml, "startup": startup}

if __name__ == "__main__":
    FLOWS[sys.argv[1]](int(sys.argv[2]))
