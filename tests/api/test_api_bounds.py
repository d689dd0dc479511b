"""Every integer a query string carries is bounded: a number out of range is a 422 that names
the parameter, never a 500 (SQLite refuses integers past 2**63 with an overflow)."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import add_run, add_task
from fastapi.testclient import TestClient

from pauta.core.states import FlowRunState, State
from pauta.store.repository import Store

HUGE = "99999999999999999999"


def integer_query_parameters(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, parameter, schema) of every integer query parameter the API describes."""
    spec = client.get("/api/v1/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                options = schema.get("anyOf", [schema])
                for option in options:
                    if parameter["in"] == "query" and option.get("type") == "integer":
                        found.append((path, parameter["name"], option))
    return found


def test_every_integer_query_parameter_has_a_range(client: TestClient) -> None:
    found = integer_query_parameters(client)
    assert {name for _, name, _ in found} >= {"limit", "offset", "attempt", "tail"}
    for path, name, schema in found:
        assert "minimum" in schema, (path, name)
        assert "maximum" in schema, (path, name)
        assert schema["maximum"] < 2**63, (path, name)


@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", str(2**63), str(2**53 + 1)])
def test_out_of_range_integers_are_422_everywhere(
    client: TestClient, as_admin: dict[str, str], store: Store, value: str
) -> None:
    run = add_run(store, state=FlowRunState.FAILED)
    add_task(store, run, "shout-0", State.FAILED)
    for path, name, schema in integer_query_parameters(client):
        url = path.format(run_id=run.id, task_key="shout-0", flow="greet", name="churn")
        reply = client.get(url, params={name: value}, headers=as_admin)
        if schema["minimum"] <= int(value) <= schema["maximum"]:
            assert reply.status_code < 500, (url, name, reply.text)
            continue
        assert reply.status_code == 422, (url, name, reply.text)
        assert reply.json()["detail"][0]["field"] == name
