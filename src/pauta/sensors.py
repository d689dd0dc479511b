"""Sensors: task calls that wait for a condition, holding no worker process while they wait.

Inside a flow, each function below returns a future like any task call::

    from pauta import flow, sensors

    @flow
    def score(day: str = "2026-11-30"):
        files = sensors.file(f"data/incoming/{day}/*.csv", poke_interval=60, timeout=6 * 3600)
        load(files)          # runs once the files are there; gets the list of paths

The dispatching process pokes every ``poke_interval`` seconds from one asyncio loop; between
pokes the call is WAITING, and it ends SUCCEEDED with the condition's value, or FAILED with a
``SensorTimeout`` once ``timeout`` seconds passed. Called outside a flow, a sensor blocks until
its condition holds and returns the value.

- ``file(pattern)``: a file matches the glob (any fsspec URL); the value is the sorted paths.
- ``sql(url, query)``: the query's first row is truthy; the value is that row (a tuple).
- ``http(url, status=200, contains=None)``: the URL answers with the status (and the text);
  the value is the body. A refused connection or a timeout counts as "not yet".

``sql`` and ``http`` take a connection's name instead of a URL (a string without ``://``:
``sensors.sql("warehouse", "SELECT ...")``): it is resolved at each poke, as ``connection()``
resolves it, and its credentials are masked in what the sensor shows.
- ``flow_run(flow, state="SUCCEEDED")``: a run of another flow for the same logical date as
  this run (or ``logical_date=``) ended in the state; the value is that run's id.
- ``time(until=...)`` / ``time(after=timedelta)``: a moment has passed (``after`` counts from
  the end of the run's data interval); the value is the moment.
"""

from __future__ import annotations

import asyncio
import glob as _glob
import time as _time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pauta.connections import Connection, InvalidConnectionError, connection
from pauta.connections.rules import check_name
from pauta.core.clock import Clock, get_clock, utcnow
from pauta.core.errors import DefinitionError, SensorTimeout
from pauta.core.resources import Resources
from pauta.core.states import FlowRunState
from pauta.definitions.task import Task, task

__all__ = ["SensorTimeout", "file", "flow_run", "http", "sql", "time"]

DEFAULT_POKE_INTERVAL = 30.0
DEFAULT_TIMEOUT = 24 * 3600.0


class PokeContext(Protocol):
    """What a poke may use: the run it belongs to, the metadata store and the clock that
    tells the time (the executor's: a poke never reads the time any other way)."""

    @property
    def logical_date(self) -> datetime: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def interval_end(self) -> datetime: ...

    @property
    def store(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Sensor(ABC):
    """A condition to wait for; each kind of sensor says how to check it in ``poke``."""

    poke_interval: float
    timeout: float

    kind = "sensor"

    @abstractmethod
    def poke(self, ctx: PokeContext) -> Any:
        """Check the condition once: None while it does not hold, else the sensor's value."""

    async def apoke(self, ctx: PokeContext) -> Any:
        """Poke without blocking the loop: blocking checks run in a thread."""
        return await asyncio.to_thread(self.poke, ctx)

    def describe(self) -> str:
        return self.kind

    def timeout_message(self) -> str:
        return (
            f"sensor {self.describe()!r} timed out: its condition did not hold in {self.timeout:g}s"
        )


@dataclass(frozen=True, slots=True)
class FileSensor(Sensor):
    pattern: str = ""
    kind = "file"

    def poke(self, ctx: PokeContext) -> list[str] | None:
        if "://" not in self.pattern:
            found = sorted(p for p in _glob.glob(self.pattern, recursive=True))
            return found or None
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(self.pattern)
        return sorted(fs.unstrip_protocol(p) for p in fs.glob(path)) or None

    def describe(self) -> str:
        return f"file {self.pattern}"


@dataclass(frozen=True, slots=True)
class ObjectKeySensor(Sensor):
    """Keys matching ``pattern`` in an object store (or any fsspec filesystem): a full URL, or
    a pattern under the place a connection names, reached with its credentials."""

    pattern: str = ""
    conn: str | None = None
    kind = "object_key"

    def poke(self, ctx: PokeContext) -> list[str] | None:
        if self.conn is None:
            from fsspec.core import url_to_fs

            fs, path = url_to_fs(self.pattern)
        else:
            place = connection(self.conn)
            fs = place.filesystem()
            path = place.path.rstrip("/") + "/" + self.pattern.lstrip("/")
        # a listing cached by the filesystem object would never see the key arrive
        fs.invalidate_cache()
        return sorted(fs.unstrip_protocol(p) for p in fs.glob(path)) or None

    def describe(self) -> str:
        where = f"{self.conn}:" if self.conn else ""
        return f"object_key {where}{self.pattern}"


@dataclass(frozen=True, slots=True)
class SqlSensor(Sensor):
    url: str = ""
    query: str = ""
    kind = "sql"

    def poke(self, ctx: PokeContext) -> tuple[Any, ...] | None:
        import sqlalchemy as sa

        if is_connection_name(self.url):
            engine = _sql_engine(connection(self.url, store=ctx.store))
        else:
            engine = _sql_engine(Connection("url", self.url))
        with engine.connect() as conn:
            row = conn.execute(sa.text(self.query)).first()
        if row is None or not any(row):
            return None
        return tuple(row)

    def describe(self) -> str:
        return f"sql {self.query}"


@dataclass(frozen=True, slots=True)
class HttpSensor(Sensor):
    url: str = ""
    status: int = 200
    contains: str | None = None
    request_timeout: float = 10.0
    kind = "http"

    def poke(self, ctx: PokeContext) -> str | None:
        request: str | urllib.request.Request = self.url
        if is_connection_name(self.url):
            conn = connection(self.url, store=ctx.store)
            request = urllib.request.Request(conn.http_url(), headers=conn.http_headers())
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                code, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            return None  # not up yet: the usual reason to wait for a URL
        text = body.decode("utf-8", "replace")
        if code != self.status or (self.contains is not None and self.contains not in text):
            return None
        return text

    def describe(self) -> str:
        return f"http {self.url}"


@dataclass(frozen=True, slots=True)
class FlowRunSensor(Sensor):
    flow: str = ""
    states: tuple[str, ...] = (FlowRunState.SUCCEEDED.value,)
    logical_date: datetime | None = None
    kind = "flow_run"

    def poke(self, ctx: PokeContext) -> str | None:
        from pauta.store.events import latest_run_for

        when = self.logical_date or ctx.logical_date
        states = [FlowRunState(s) for s in self.states]
        run = latest_run_for(ctx.store, self.flow, when, states)
        return run.id if run is not None else None

    def describe(self) -> str:
        return f"flow_run {self.flow}"


@dataclass(frozen=True, slots=True)
class TimeSensor(Sensor):
    until: datetime | None = None
    after: timedelta | None = None
    kind = "time"

    def moment(self, ctx: PokeContext) -> datetime:
        if self.until is not None:
            return self.until
        assert self.after is not None
        return ctx.interval_end + self.after

    def poke(self, ctx: PokeContext) -> datetime | None:
        moment = self.moment(ctx)
        return moment if ctx.clock.now() >= moment else None

    async def apoke(self, ctx: PokeContext) -> Any:
        return self.poke(ctx)  # no I/O: no thread needed

    def describe(self) -> str:
        return "time"


# -- the task each kind of sensor is called as ---------------------------------------------
@dataclass(frozen=True, slots=True)
class _Standalone:
    """The context of a sensor called outside a flow run."""

    logical_date: datetime = field(default_factory=utcnow)
    _store: list[Any] = field(default_factory=list)
    clock: Clock = field(default_factory=get_clock)

    @property
    def interval_end(self) -> datetime:
        return self.logical_date

    @property
    def store(self) -> Any:
        if not self._store:
            from pauta.core.settings import Settings
            from pauta.store.repository import Store

            self._store.append(Store.from_settings(Settings.from_env()))
        return self._store[0]


def wait(sensor: Sensor, ctx: PokeContext | None = None) -> Any:
    """Poke ``sensor`` until its condition holds (blocking); its value, or SensorTimeout."""
    ctx = ctx or _Standalone()
    deadline = _time.monotonic() + sensor.timeout
    while True:
        value = sensor.poke(ctx)
        if value is not None:
            return value
        left = deadline - _time.monotonic()
        if left <= 0:
            raise SensorTimeout(sensor.timeout_message())
        _time.sleep(min(sensor.poke_interval, left))


_SENSOR_OPTIONS: dict[str, Any] = {
    # waiting holds no process and no capacity: the dispatcher's asyncio loop pokes
    "executor": "sensor",
    "resources": Resources(cpus=0),
}


def _sensor_task(kind: str) -> Task[Any, Any]:
    def sense(sensor: Sensor) -> Any:
        return wait(sensor)

    sense.__name__ = sense.__qualname__ = f"{kind}_sensor"
    sense.__module__ = __name__
    return task(name=f"{kind}_sensor", **_SENSOR_OPTIONS)(sense)


file_sensor = _sensor_task("file")
object_key_sensor = _sensor_task("object_key")
sql_sensor = _sensor_task("sql")
http_sensor = _sensor_task("http")
flow_run_sensor = _sensor_task("flow_run")
time_sensor = _sensor_task("time")


def _timing(poke_interval: Any, timeout: Any, where: str) -> tuple[float, float]:
    values = []
    for name, value in (("poke_interval", poke_interval), ("timeout", timeout)):
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise DefinitionError(f"{where}: {name} must be a number of seconds > 0, got {value!r}")
        values.append(float(value))
    return values[0], values[1]


def file(
    pattern: str,
    *,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until a file matches ``pattern``; the value is the sorted list of paths."""
    if not isinstance(pattern, str) or not pattern:
        raise DefinitionError(f"sensors.file: pattern must be a glob string, got {pattern!r}")
    interval, limit = _timing(poke_interval, timeout, "sensors.file")
    return file_sensor(FileSensor(interval, limit, pattern))


def object_key(
    pattern: str,
    *,
    conn: str | None = None,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until an object store holds a key matching ``pattern`` (a glob): a full URL
    (``s3://bucket/raw/day=*.csv``), or with ``conn`` a pattern under the place that connection
    names, read with its credentials. The value is the sorted list of matching URLs."""
    if not isinstance(pattern, str) or not pattern:
        raise DefinitionError(f"sensors.object_key: pattern must be a glob string, got {pattern!r}")
    if conn is None and "://" not in pattern:
        raise DefinitionError(
            "sensors.object_key: give a full URL (s3://bucket/key*) or conn= with a connection "
            "name; for local files use sensors.file"
        )
    if conn is not None:
        _check_target(conn, "sensors.object_key: conn")
    interval, limit = _timing(poke_interval, timeout, "sensors.object_key")
    return object_key_sensor(ObjectKeySensor(interval, limit, pattern, conn))


def sql(
    url: str,
    query: str,
    *,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until ``query`` (run on the SQLAlchemy ``url``, or on the connection of that name)
    returns a first row with a truthy value; the value is that row."""
    _check_target(url, "sensors.sql")
    if not query or not isinstance(query, str):
        raise DefinitionError("sensors.sql: give the query to run as a string")
    interval, limit = _timing(poke_interval, timeout, "sensors.sql")
    return sql_sensor(SqlSensor(interval, limit, url, query))


def http(
    url: str,
    *,
    status: int = 200,
    contains: str | None = None,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until ``url`` (or the URL of the connection of that name, with its credentials as
    headers) answers ``status`` (and its body contains ``contains``); the value is the body
    as text."""
    _check_target(url, "sensors.http")
    if not is_connection_name(url) and not url.startswith(("http://", "https://")):
        raise DefinitionError(
            f"sensors.http: url must start with http:// or https://, or be a connection's "
            f"name: {url!r}"
        )
    interval, limit = _timing(poke_interval, timeout, "sensors.http")
    return http_sensor(HttpSensor(interval, limit, url, int(status), contains))


def flow_run(
    flow: str,
    *,
    state: str | Iterable[str] = FlowRunState.SUCCEEDED,
    logical_date: datetime | None = None,
    poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until a run of ``flow`` for this run's logical date (or ``logical_date``) ends in
    ``state``; the value is that run's id."""
    wanted = [state] if isinstance(state, str) else list(state)
    try:
        states = tuple(sorted({FlowRunState(str(s).upper()).value for s in wanted}))
    except ValueError:
        raise DefinitionError(
            f"sensors.flow_run: unknown state in {wanted!r}; use SUCCEEDED, FAILED or CANCELLED"
        ) from None
    if logical_date is not None and logical_date.tzinfo is None:
        raise DefinitionError("sensors.flow_run: logical_date needs a timezone")
    interval, limit = _timing(poke_interval, timeout, "sensors.flow_run")
    return flow_run_sensor(FlowRunSensor(interval, limit, flow, states, logical_date))


def time(
    *,
    until: datetime | None = None,
    after: timedelta | None = None,
    poke_interval: float | timedelta = 1.0,
    timeout: float | timedelta = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until ``until`` (an aware datetime) or until ``after`` past the end of the run's
    data interval; the value is the moment."""
    if (until is None) == (after is None):
        raise DefinitionError("sensors.time: give exactly one of until= or after=")
    if until is not None and until.tzinfo is None:
        raise DefinitionError("sensors.time: until needs a timezone (datetime(..., tzinfo=UTC))")
    interval, limit = _timing(poke_interval, timeout, "sensors.time")
    moment = until.astimezone(UTC) if until is not None else None
    return time_sensor(TimeSensor(interval, limit, moment, after))


def is_connection_name(target: str) -> bool:
    """Whether a sensor's URL argument names a connection instead (it has no ``://``)."""
    return "://" not in target


def _check_target(target: Any, where: str) -> None:
    if not isinstance(target, str) or not target:
        raise DefinitionError(f"{where}: give a URL or a connection's name, got {target!r}")
    if is_connection_name(target):
        try:
            check_name(target)
        except InvalidConnectionError as exc:
            raise DefinitionError(f"{where}: {exc}") from None


_ENGINES: dict[str, Any] = {}


def _sql_engine(conn: Connection) -> Any:
    """One engine per URL, so pokes reuse their connections (a connection whose URL changed
    gets a new one)."""
    engine = _ENGINES.get(conn.url)
    if engine is None:
        engine = _ENGINES[conn.url] = conn.sqlalchemy_engine(pool_pre_ping=True)
    return engine
