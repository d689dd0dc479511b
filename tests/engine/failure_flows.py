"""Flows whose first task fails, for the tests of how a run names its root cause."""

from __future__ import annotations

from pauta import flow, task


@task
def load_week(week: int) -> list[int]:
    raise ValueError(f"no rows for week {week}")


@task
def build_features(rows: list[int]) -> list[int]:
    return rows


@task
def evaluate(features: list[int]) -> float:
    return float(len(features))


@flow
def weekly(week: int = 48) -> float:
    """The body only looks at the leaf: evaluate-0 is UPSTREAM_FAILED two levels down."""
    score = evaluate(build_features(load_week(week)))
    return score.result()


@flow
def weekly_unobserved(week: int = 48) -> None:
    """The body never looks at the calls it made."""
    evaluate(build_features(load_week(week)))
