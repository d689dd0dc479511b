"""Flows whose runs `pauta runs compare` and the compare page set side by side."""

from __future__ import annotations

from pauta import context, flow, task


@task(label="fit[{kind}]")
def fit(kind: str, depth: int) -> float:
    accuracy = 0.8 if kind == "logreg" else 0.8 + depth / 100
    context().log_metric("accuracy", accuracy)
    for step in range(3):
        context().log_metric("loss", (1 - accuracy) / (step + 1), step=step)
    return accuracy


@task
def square(x: int) -> int:
    return x * x


@flow
def models(depth: int = 3, n: int = 3) -> float:
    """Two models and a map whose size is a parameter."""
    fit("logreg", depth)
    forest = fit("forest", depth)
    square.map(list(range(n)))
    return forest.result()


@flow
def other() -> None:
    """Another flow: its runs cannot be compared with those of models."""
