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


# -- teardown -----------------------------------------------------------------------------------
@task
def work(fail: bool) -> str:
    if fail:
        raise ValueError("work failed")
    return "worked"


@task
def slow_work(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "slept"


@task
def clean_up(tag: str) -> str:
    print(f"cleaning up after {tag}")
    return tag


@task(teardown=True)
def release(resource: object, tag: str) -> str:
    print(f"released {resource!r} ({tag})")
    if tag == "broken":
        raise RuntimeError("release failed")
    return f"released {resource!r}"


@flow
def with_finally(fail: bool = False) -> str:
    try:
        return work(fail).result()
    finally:
        clean_up("finally")


@flow
def marked_teardown(fail: bool = False, tag: str = "ok") -> str:
    made = work(fail)
    release(made, tag)  # runs even when work failed; given None for its failed argument
    return "body done"


@flow
def cancelled_with_finally(seconds: float = 30.0) -> str:
    try:
        return slow_work(seconds).result()
    finally:
        clean_up("cancel")


# -- latest only --------------------------------------------------------------------------------
@task(latest_only=True)
def publish(report: str) -> str:
    return f"published {report}"


@task
def announce(published: str) -> str:
    return f"announced {published}"


@task
def archive() -> str:
    return "archived"


@flow
def nightly_report() -> dict[str, object]:
    report = work(False)
    published = publish(report)
    announced = announce(published)  # takes its result: skipped with it
    archived = archive(wait_for=[published])  # only waits for it: runs
    return {
        "published": published.result(),
        "announced": announced.result(),
        "archived": archived.result(),
    }
