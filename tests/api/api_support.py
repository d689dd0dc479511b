"""What the API tests share: flow files for a flows folder, and helpers that record runs and
task calls straight in the store, and the security headers every answer carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pauta.core.clock import utcnow
from pauta.core.ids import new_run_id
from pauta.core.states import FlowRunState, State
from pauta.store.records import AttemptRecord, FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.repository import Store

PASSWORD = "correct horse battery"

GREET = '''
from pauta import flow, task

@task
def shout(name: str) -> str:
    return name.upper()

@flow
def greet(name: str, times: int = 1) -> str:
    """Say hello."""
    return shout(name).result() * times

@flow(schedule="0 3 * * *", timezone="UTC")
def nightly() -> None:
    pass
'''

BROKEN = "import does_not_exist\n"

FLAKY = """
import os
from pathlib import Path
from pauta import flow, task

@task
def first() -> int:
    with Path(os.environ["FLAKY_DIR"], "first").open("a") as marks:
        marks.write("x")
    return 1

@task
def second(value: int) -> int:
    if not Path(os.environ["FLAKY_DIR"], "fixed").exists():
        raise RuntimeError("not yet")
    return value + 1

@task
def third(value: int) -> int:
    return value * 10

@flow
def flaky() -> int:
    return third(second(first())).result()
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_run(
    store: Store,
    flow: str = "greet",
    state: FlowRunState = FlowRunState.SUCCEEDED,
    *,
    trigger: str = "manual",
    created_at: Any = None,
    params: dict[str, Any] | None = None,
) -> FlowRunRecord:
    now = created_at or utcnow()
    ended = state in (FlowRunState.SUCCEEDED, FlowRunState.FAILED, FlowRunState.CANCELLED)
    record = FlowRunRecord(
        id=new_run_id(),
        flow=flow,
        state=state,
        params=params if params is not None else {"name": "ada"},
        logical_date=now,
        interval_start=now,
        interval_end=now,
        trigger=trigger,
        created_at=now,
        started_at=now if state != FlowRunState.QUEUED else None,
        ended_at=now + timedelta(seconds=2) if ended else None,
    )
    return store.create_flow_run(record)


def add_task(
    store: Store,
    run: FlowRunRecord,
    key: str,
    state: State,
    *,
    log_path: str | None = None,
    upstream: list[str] | None = None,
) -> TaskRunRecord:
    now = utcnow()
    task = TaskRunRecord(
        flow_run_id=run.id,
        key=key,
        name=key.rsplit("-", 1)[0],
        state=state,
        attempts=1,
        upstream=upstream or [],
        created_at=now,
        started_at=now,
        ended_at=now + timedelta(seconds=1),
        error={"type": "RuntimeError", "message": "boom"} if state == State.FAILED else None,
    )
    attempt = AttemptRecord(run.id, key, 1, state, started_at=now, ended_at=now, log_path=log_path)
    store.write(WriteBatch(tasks=[TaskWrite(task, None, attempt, None)]), now)
    return task


SECURE_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


def assert_secure(headers: Mapping[str, str]) -> None:
    """The answer's headers say: no inline script or style, no framing, no sniffing."""
    get = {name.lower(): value for name, value in headers.items()}.get
    policy = dict(
        part.strip().split(" ", 1) for part in get("content-security-policy", "").split(";")
    )
    for directive, value in SECURE_DIRECTIVES.items():
        assert policy.get(directive) == value, (directive, policy)
    assert "unsafe-inline" not in get("content-security-policy")
    assert get("x-content-type-options") == "nosniff"
    assert get("x-frame-options") == "DENY"
    assert get("referrer-policy") in {"same-origin", "no-referrer"}
