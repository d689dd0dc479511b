"""Event triggers users write in ``@flow(schedule=...)``, and the assets tasks declare.

- ``on_file("data/incoming/*.csv")`` runs the flow once per new matching file, the file's path
  given as a parameter (``path`` unless ``param=`` names another);
- ``on_asset("weekly_features")`` runs it after each successful call of a task that declares
  ``outputs=[Asset("weekly_features")]``;
- ``on_flow("etl", state="SUCCEEDED")`` runs it after each run of ``etl`` that ends in one of
  the given states; the new run takes the finished run's logical date and data interval.

These are plain, validated values: when they fire is decided by ``pauta.scheduling.triggers``.
A flow may combine one time schedule with any number of triggers:
``schedule=["0 3 * * MON", on_asset("raw_events")]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from pauta.core.errors import DefinitionError
from pauta.core.states import FlowRunState
from pauta.definitions.schedules import Cron, Every, Schedule, as_schedule

_ASSET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/\-]{0,254}$")


def _asset_name(name: Any, where: str) -> str:
    if isinstance(name, Asset):
        return name.name
    if not isinstance(name, str) or not _ASSET_NAME.match(name):
        raise DefinitionError(
            f"{where}: an asset name must be a string of letters, digits and _ . : / - "
            f"(at most 255, not starting with a symbol), got {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class Asset:
    """Something a task produces that other flows can wait for: ``outputs=[Asset("x")]``."""

    name: str

    def __post_init__(self) -> None:
        _asset_name(self.name, "Asset")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class FileTrigger:
    """Run once per new matching file (a file whose path, size or modification time is new).

    ``settle`` is how many seconds a file must be left unchanged before it counts, so a file
    still being written does not start a run with half its content.
    """

    pattern: str
    param: str = "path"
    settle: float = 2.0

    def describe(self) -> str:
        return f"on file {self.pattern}"

    def spec(self) -> dict[str, Any]:
        return {"file": self.pattern, "param": self.param, "settle": self.settle}


@dataclass(frozen=True, slots=True)
class AssetTrigger:
    """Run after each update of an asset."""

    asset: str

    def describe(self) -> str:
        return f"on asset {self.asset}"

    def spec(self) -> dict[str, Any]:
        return {"asset": self.asset}


@dataclass(frozen=True, slots=True)
class FlowTrigger:
    """Run after each run of another flow that ends in one of ``states``."""

    flow: str
    states: tuple[str, ...] = (FlowRunState.SUCCEEDED.value,)

    def describe(self) -> str:
        return f"on flow {self.flow} {'|'.join(self.states)}"

    def spec(self) -> dict[str, Any]:
        return {"flow": self.flow, "states": list(self.states)}


Trigger: TypeAlias = FileTrigger | AssetTrigger | FlowTrigger


def on_file(pattern: str, *, param: str = "path", settle: float = 2.0) -> FileTrigger:
    """Trigger a run per new file matching ``pattern`` (a glob; ``**`` spans folders; any
    fsspec URL such as ``s3://bucket/in/*.csv``). A relative pattern is relative to the
    directory the scheduler runs in."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise DefinitionError(f"on_file: pattern must be a non-empty glob string, got {pattern!r}")
    if not isinstance(param, str) or not param.isidentifier():
        raise DefinitionError(f"on_file: param must be a parameter name, got {param!r}")
    if isinstance(settle, bool) or not isinstance(settle, int | float) or settle < 0:
        raise DefinitionError(f"on_file: settle must be a number of seconds >= 0, got {settle!r}")
    return FileTrigger(pattern.strip(), param, float(settle))


def on_asset(name: str | Asset) -> AssetTrigger:
    """Trigger a run after each successful task call that declares ``outputs=[Asset(name)]``."""
    return AssetTrigger(_asset_name(name, "on_asset"))


def on_flow(name: str, *, state: str | Iterable[str] = FlowRunState.SUCCEEDED) -> FlowTrigger:
    """Trigger a run after each run of the flow ``name`` that ends in ``state`` (one of
    SUCCEEDED, FAILED, CANCELLED, or several)."""
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"on_flow: name must be a flow name, got {name!r}")
    wanted = [state] if isinstance(state, str) else list(state)
    ends = {s.value for s in (FlowRunState.SUCCEEDED, FlowRunState.FAILED, FlowRunState.CANCELLED)}
    states = []
    for value in wanted:
        text = str(value).upper()
        if text not in ends:
            raise DefinitionError(
                f"on_flow({name!r}): state {value!r} is not an end state; use one of "
                f"{', '.join(sorted(ends))}"
            )
        states.append(text)
    if not states:
        raise DefinitionError(f"on_flow({name!r}): give at least one state")
    return FlowTrigger(name, tuple(sorted(set(states))))


def split_schedule(value: Any, *, where: str) -> tuple[Schedule | None, tuple[Trigger, ...]]:
    """What ``@flow(schedule=...)`` received, as (time schedule, triggers).

    ``value`` is a cron string, ``Every``, a trigger, or a list of those with at most one time
    schedule.
    """
    items = list(value) if isinstance(value, list | tuple) else [value]
    schedule: Schedule | None = None
    triggers: list[Trigger] = []
    for item in items:
        if isinstance(item, FileTrigger | AssetTrigger | FlowTrigger):
            if item not in triggers:
                triggers.append(item)
            continue
        if item is None:
            continue
        if isinstance(item, str | Cron | Every) and schedule is not None:
            raise DefinitionError(
                f"{where}: give at most one time schedule (a cron string or Every); got "
                f"{schedule} and {item}"
            )
        try:
            schedule = as_schedule(item, where=where)
        except DefinitionError as exc:
            raise DefinitionError(
                f"{exc}; or a trigger: on_file(...), on_asset(...), on_flow(...)"
            ) from None
    return schedule, tuple(triggers)


def trigger_spec(trigger: Trigger) -> dict[str, Any]:
    """A JSON form ``trigger_from_spec`` rebuilds the trigger from."""
    return trigger.spec()


def trigger_from_spec(spec: dict[str, Any]) -> Trigger:
    if "file" in spec:
        return FileTrigger(spec["file"], spec.get("param", "path"), float(spec.get("settle", 2)))
    if "asset" in spec:
        return AssetTrigger(spec["asset"])
    return FlowTrigger(spec["flow"], tuple(spec.get("states") or ("SUCCEEDED",)))


def trigger_key(trigger: Trigger) -> str:
    """A stable name for the trigger, under which its cursor is kept in the store."""
    if isinstance(trigger, FileTrigger):
        return f"file:{trigger.pattern}"
    if isinstance(trigger, AssetTrigger):
        return f"asset:{trigger.asset}"
    return f"flow:{trigger.flow}:{','.join(trigger.states)}"


def schedule_text(schedule: Any, triggers: Iterable[Any] = ()) -> str | None:
    """A schedule and triggers as text: a cron string as is, an object by its ``describe()``
    or ``str()``, joined by " · " (``"0 3 * * MON · on asset raw"``)."""
    parts = []
    for item in (schedule, *triggers):
        if item is None:
            continue
        describe = getattr(item, "describe", None)
        parts.append(item if isinstance(item, str) else str(describe() if describe else item))
    return " · ".join(parts) or None
