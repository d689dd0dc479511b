"""Flows whose sensors wait on connections by name, for test_connections_sensors.py."""

from __future__ import annotations

from typing import Any

from pauta import flow, sensors


@flow
def wait_for_rows(name: str) -> Any:
    return sensors.sql(name, "SELECT count(*) FROM t", poke_interval=0.05, timeout=60).result()


@flow
def wait_for_api(name: str) -> Any:
    return sensors.http(name, poke_interval=0.05, timeout=60).result()
