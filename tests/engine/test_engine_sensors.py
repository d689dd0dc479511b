"""Sensors wait in the dispatching process: WAITING between pokes, no worker slot held, a
value or a SensorTimeout at the end, and a cancel stops them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sensor_flows as sf

from pauta import sensors
from pauta.core.clock import utcnow
from pauta.core.errors import DefinitionError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState, State
from pauta.engine.runner import Runner
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_slot(module_home: Path) -> Iterator[Runner]:
    """One worker process and one cpu: a sensor that took the slot would never finish."""
    runner = Runner(Settings.from_env(module_home), capacity=Resources(cpus=1), workers=1)
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def store(module_home: Path) -> Iterator[Store]:
    store = Store.from_settings(Settings.from_env(module_home))
    yield store
    store.close()


def test_a_waiting_sensor_holds_no_worker_slot(one_slot: Runner, tmp_path: Path) -> None:
    run = one_slot.run(sf.sensor_waits_for_a_task, {"folder": str(tmp_path)})
    assert run.state == FlowRunState.SUCCEEDED
    assert run.result() == 1
    by_key = {t.key: t for t in run.tasks}
    assert by_key["file_sensor-0"].state == State.SUCCEEDED
    assert by_key["file_sensor-0"].attempts == 1


def test_a_sensor_that_times_out_fails_its_run(one_slot: Runner, tmp_path: Path) -> None:
    run = one_slot.run(sf.sensor_times_out, {"folder": str(tmp_path)})
    assert run.state == FlowRunState.FAILED
    [sensor] = run.tasks
    assert sensor.state == State.FAILED
    assert sensor.error["type"].endswith("SensorTimeout")
    assert "did not hold in 0.3s" in sensor.error["message"]


def test_a_sensor_is_waiting_between_pokes_and_a_cancel_stops_it(
    one_slot: Runner, store: Store, tmp_path: Path
) -> None:
    finished: list = []
    thread = threading.Thread(
        target=lambda: finished.append(
            one_slot.run(sf.sensor_waits_long, {"folder": str(tmp_path)})
        )
    )
    thread.start()
    deadline = time.monotonic() + 30
    waiting = None
    while time.monotonic() < deadline and waiting is None:
        for record in store.list_flow_runs(flow="sensor_waits_long", limit=1):
            tasks = store.list_task_runs(record.id)
            if tasks and tasks[0].state == State.WAITING:
                waiting = record
        time.sleep(0.05)
    assert waiting is not None, "the sensor never showed WAITING"
    store.request_cancel(waiting.id, utcnow())
    thread.join(timeout=30)
    [run] = finished
    assert run.state == FlowRunState.CANCELLED
    assert [t.state for t in run.tasks] == [State.CANCELLED]
    log = Path(store.list_attempts(run.id)[0].log_path).read_text()
    assert "waiting for file" in log


def test_sql_sensor_waits_for_a_truthy_row(runner: Runner, tmp_path: Path) -> None:
    path = tmp_path / "ready.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE ready (x INTEGER)")

    def later() -> None:
        time.sleep(0.4)
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO ready VALUES (1)")

    threading.Thread(target=later).start()
    run = runner.run(sf.sql_sensor, {"url": f"sqlite:///{path}"})
    assert run.result() == (1,)


def test_http_sensor_waits_for_the_answer(runner: Runner) -> None:
    ready = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"ready" if ready.is_set() else b"starting"
            self.send_response(200 if ready.is_set() else 503)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Timer(0.4, ready.set).start()
    try:
        run = runner.run(sf.http_sensor, {"url": f"http://127.0.0.1:{server.server_port}/"})
    finally:
        server.shutdown()
        server.server_close()
    assert run.result() == "ready"


def test_flow_run_sensor_waits_for_the_other_flow(runner: Runner, store: Store) -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)

    def etl_succeeds() -> None:
        time.sleep(0.4)
        record = FlowRunRecord(
            id="etl0000000000001",
            flow="etl",
            state=FlowRunState.QUEUED,
            params={},
            logical_date=day,
            interval_start=day,
            interval_end=day,
            trigger="schedule",
            created_at=utcnow(),
        )
        store.create_flow_run(record)
        now = utcnow()
        store.transition_flow_run(record.id, "RUNNING", expected=["QUEUED"], now=now)
        store.transition_flow_run(record.id, "SUCCEEDED", expected=["RUNNING"], now=now)

    threading.Thread(target=etl_succeeds).start()
    run = runner.run(sf.flow_run_sensor, {"day": day})
    assert run.result() == "etl0000000000001"


def test_time_sensor_waits_until_the_moment(runner: Runner) -> None:
    until = utcnow() + timedelta(seconds=0.3)
    run = runner.run(sf.time_sensor, {"until": until})
    assert run.result() == until
    assert utcnow() >= until


def test_the_time_sensor_reads_the_time_from_the_poke_context() -> None:
    from pauta.core.clock import FrozenClock
    from pauta.executors.sensor import PokeContext

    clock = FrozenClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    ctx = PokeContext(clock.now(), clock.now(), None, clock)
    sensor = sensors.TimeSensor(1.0, 60.0, until=clock.now() + timedelta(hours=1))
    assert sensor.poke(ctx) is None
    clock.advance(hours=1)
    assert sensor.poke(ctx) == clock.now()


def test_outside_a_flow_a_sensor_blocks_until_its_condition_holds(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1")
    assert sensors.file(str(tmp_path / "*.csv"), poke_interval=0.05, timeout=5) == [
        str(tmp_path / "x.csv")
    ]
    with pytest.raises(sensors.SensorTimeout):
        sensors.file(str(tmp_path / "*.none"), poke_interval=0.05, timeout=0.2)


def test_bad_sensor_arguments_are_refused() -> None:
    with pytest.raises(DefinitionError, match="poke_interval"):
        sensors.file("x/*", poke_interval=0)
    with pytest.raises(DefinitionError, match="exactly one"):
        sensors.time()
    with pytest.raises(DefinitionError, match="http://"):
        sensors.http("ftp://x")
    with pytest.raises(DefinitionError, match="unknown state"):
        sensors.flow_run("etl", state="DONE")
