"""Flows whose task calls carry labels (tests/engine/test_engine_labels.py)."""

from __future__ import annotations

from pauta import flow, task


@task
def load(n: int) -> list[int]:
    return list(range(n))


@task(label="train[{kind}]")
def train(rows: list[int], kind: str, depth: int = 3) -> str:
    return f"{kind}:{len(rows)}:{depth}"


@task(label="score {model} on {rows}")
def score(model: str, rows: list[int]) -> int:
    return len(model)


@task(label="item {item:03d}")
def square(item: int) -> int:
    return item * item


@task(label="{payload[name]}")
def broken_label(payload: object) -> None:
    return None


@flow
def labelled(n: int = 3) -> list[int]:
    rows = load(n)
    forest = train(rows, "forest", depth=8)
    train(rows, kind="logreg")
    score(forest, rows)
    broken_label(5)  # its label cannot be rendered: the call still runs
    return [f.result() for f in square.map(load(n))]


@task
def fit(kind: str) -> str:
    return kind


@flow
def grouped(kinds: list[str]) -> list[str]:
    from pauta import group

    fitted = [fit("outside")]
    with group("train"):
        for kind in kinds:
            with group(kind):
                fitted.append(fit(kind))
                fitted.extend(fit.map([kind, kind]))
        fitted.append(fit("train-level"))
    fitted.append(fit("after"))
    return [f.result() for f in fitted]
