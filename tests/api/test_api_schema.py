"""Property-based checks of the whole API against its OpenAPI description (schemathesis): as
an admin, no request the schema allows ends in a 5xx, and every answer matches the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_support import add_run, add_task, bearer
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pauta.api import create_app
from pauta.app import users
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState, State
from pauta.store.repository import Store

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


@pytest.fixture
def admin_headers(sqlite_store: Store) -> dict[str, str]:
    users.create_user(sqlite_store, "root", "a long password", "admin")
    return bearer(users.create_token(sqlite_store, "root"))


# Made at collection (schemathesis makes one test per operation from its description), on a
# throwaway in-memory store; each test points it at its own store and flows folder.
APP = create_app(Settings.from_env(Path("unused")), store=Store("sqlite://"))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture
def app(sqlite_store: Store, settings: Settings, flows_dir: Path) -> Iterator[FastAPI]:
    failed = add_run(sqlite_store, state=FlowRunState.FAILED)
    add_task(sqlite_store, failed, "shout-0", State.FAILED)
    add_run(sqlite_store, state=FlowRunState.QUEUED)
    state = APP.state
    saved = (state.store, state.settings, state.flows_dir)
    state.store, state.settings, state.flows_dir = sqlite_store, settings, flows_dir
    yield APP
    state.store, state.settings, state.flows_dir = saved


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_its_schema(
    case: schemathesis.Case, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    # Not positive_data_acceptance: many schema-valid requests are rightly refused (an unknown
    # flow, a parameter of the wrong type, a cursor this server never handed out).
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
