"""Flows with sensors for tests/engine/test_engine_sensors.py (imported by worker processes)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pauta import flow, sensors, task


@task
def make_file(path: str) -> str:
    time.sleep(0.3)
    Path(path).write_text("done")
    return path


@task
def count(paths: list[str]) -> int:
    return len(paths)


@flow
def sensor_waits_for_a_task(folder: str) -> int:
    """The only worker slot goes to make_file while the sensor waits for its file."""
    seen = sensors.file(f"{folder}/*.done", poke_interval=0.05, timeout=60)
    make_file(f"{folder}/a.done")
    return count(seen).result()


@flow
def sensor_times_out(folder: str) -> Any:
    return sensors.file(f"{folder}/*.never", poke_interval=0.05, timeout=0.3).result()


@flow
def sensor_waits_long(folder: str) -> Any:
    return sensors.file(f"{folder}/*.never", poke_interval=0.1, timeout=120).result()


@flow
def sql_sensor(url: str) -> Any:
    return sensors.sql(url, "SELECT count(*) FROM ready", poke_interval=0.05, timeout=60).result()


@flow
def http_sensor(url: str) -> Any:
    return sensors.http(url, contains="ready", poke_interval=0.05, timeout=60).result()


@flow
def flow_run_sensor(day: datetime) -> Any:
    return sensors.flow_run("etl", logical_date=day, poke_interval=0.05, timeout=60).result()


@flow
def time_sensor(until: datetime) -> Any:
    return sensors.time(until=until, poke_interval=0.05, timeout=60).result()
