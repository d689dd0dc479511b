"""The peer-comparison workloads for pauta, run as `pauta run pauta_flows.py:FLOW -p n=N`."""

from __future__ import annotations

from pauta import flow, task

ML_TASKS = 20


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
def chain(n: int = 10) -> None:
    """n no-op tasks, each taking the previous one's result."""
    previous = noop()
    for _ in range(n - 1):
        previous = noop(previous)
    previous.result()


@flow
def fanout(n: int = 10) -> None:
    """One source, n parallel no-ops that depend on it, one sink that waits for all of them."""
    source = noop()
    middle = [noop(source) for _ in range(n)]
    noop(wait_for=middle).result()


@flow
def ml(n: int = ML_TASKS) -> float:
    """n small models trained in parallel; returns the best test accuracy."""
    return max(future.result() for future in train.map(range(n)))


@flow
def startup(n: int = 1) -> None:
    noop().result()
