"""Validated task and flow options. Pure data: no I/O, checked when the decorator runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pauta.core.errors import DefinitionError
from pauta.core.resources import Resources
from pauta.definitions.deadlines import Deadline, as_deadline
from pauta.definitions.environments import (
    ContainerSpec,
    VenvSpec,
    container_image,
    venv_options,
)

if TYPE_CHECKING:
    from pauta.definitions.triggers import Asset

ISOLATIONS = ("process", "inline", "venv", "container")


def seconds(value: float | timedelta | None, option: str) -> float | None:
    """Seconds from a number or a timedelta; None stays None."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise DefinitionError(f"{option} must be seconds (a number >= 0) or a timedelta")
    return float(value)


def _flag(value: Any, option: str) -> bool:
    if not isinstance(value, bool):
        raise DefinitionError(f"{option} must be True or False, not {value!r}")
    return value


def _count(value: int, option: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DefinitionError(f"{option} must be a whole number >= {minimum}, not {value!r}")
    return value


# The executor a task's isolation asks for, unless the task names one.
_EXECUTOR_OF_ISOLATION = {"inline": "inline", "venv": "venv", "container": "container"}


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Everything ``@task(...)`` accepts, normalized."""

    name: str
    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 2.0
    retry_jitter: bool = True
    max_retry_delay: float | None = None
    retry_on: tuple[type[BaseException], ...] = ()
    timeout: float | None = None
    resources: Resources = field(default_factory=Resources)
    priority: int = 0
    pool: str | None = None
    pool_slots: int = 1
    max_concurrency: int | None = None
    cache: bool = False
    cache_key: Callable[..., str] | None = None
    cache_expiration: float | None = None
    outputs: tuple[Any, ...] = ()
    executor: str | None = None
    isolation: str = "process"
    requirements: tuple[str, ...] = ()
    python: str | None = None
    image: str | None = None
    on_success: tuple[Callable[..., Any], ...] = ()
    on_failure: tuple[Callable[..., Any], ...] = ()
    on_retry: tuple[Callable[..., Any], ...] = ()
    tags: tuple[str, ...] = ()
    # a format string over the call's arguments, shown instead of the key (definitions.labels)
    label: str | None = None
    # runs even when what it waits for failed or the run is being cancelled; its own failure
    # does not change the run's outcome
    teardown: bool = False
    # SKIPPED in scheduled runs that are not of the latest tick (catch-up, backfill)
    latest_only: bool = False

    @property
    def venv(self) -> VenvSpec | None:
        """The virtualenv an ``isolation="venv"`` task runs in."""
        return VenvSpec(self.requirements, self.python) if self.isolation == "venv" else None

    def executor_or(self, default: str) -> str:
        """The executor the task's attempts run on: the one it names, else the one its
        isolation asks for, else ``default`` (the engine's, for ``"process"`` tasks)."""
        return self.executor or _EXECUTOR_OF_ISOLATION.get(self.isolation, default)

    @property
    def container(self) -> ContainerSpec | None:
        """The container an ``isolation="container"`` task runs in, limited by its resources."""
        if self.image is None:
            return None
        return ContainerSpec(self.image, self.resources.cpus, self.resources.memory)

    @classmethod
    def build(cls, name: str, **raw: Any) -> TaskOptions:
        """Check every option and say which one is wrong and how to fix it."""
        return cls._checked(name, f"@task {name!r}", raw)

    def replace(self, where: str, **changes: Any) -> TaskOptions:
        """These options with ``changes`` applied, checked as ``@task`` checks them.

        Options left out keep their values. Changing ``isolation`` drops the settings that
        only the old isolation takes (``requirements``/``python`` of a venv, ``image`` of a
        container) unless they are given again.
        """
        _refuse_unknown(
            {k: v for k, v in changes.items() if k not in _TASK_OPTIONS}, where, _TASK_OPTIONS
        )
        raw = {f.name: getattr(self, f.name) for f in fields(self)}
        isolation = changes.get("isolation", self.isolation)
        if isolation != "venv":
            raw["requirements"], raw["python"] = (), None
        if isolation != "container":
            raw["image"] = None
        raw.update(changes)
        name = raw.pop("name")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"{where}: name must be a non-empty string, not {name!r}")
        return type(self)._checked(name, where, raw)

    @classmethod
    def _checked(cls, name: str, where: str, raw: dict[str, Any]) -> TaskOptions:
        raw = dict(raw)
        resources = raw.pop("resources", None) or Resources()
        if not isinstance(resources, Resources):
            raise DefinitionError(f"{where}: resources must be a pauta.Resources(...)")
        isolation = raw.pop("isolation", "process")
        if isolation not in ISOLATIONS:
            raise DefinitionError(
                f"{where}: isolation={isolation!r} is not available; use one of "
                + ", ".join(repr(i) for i in ISOLATIONS)
            )
        requirements, python = venv_options(
            raw.pop("requirements", None), raw.pop("python", None), isolation, where
        )
        image = container_image(raw.pop("image", None), isolation, where)
        retry_on = raw.pop("retry_on", ())
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
        retry_on = tuple(retry_on or ())
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
            raise DefinitionError(f"{where}: retry_on must be exception types")
        backoff = raw.pop("retry_backoff", 2.0)
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 1:
            raise DefinitionError(f"{where}: retry_backoff must be a number >= 1")
        max_concurrency = raw.pop("max_concurrency", None)
        if max_concurrency is not None:
            _count(max_concurrency, f"{where}: max_concurrency", 1)
        cache_key = raw.pop("cache_key", None)
        if cache_key is not None and not callable(cache_key):
            raise DefinitionError(f"{where}: cache_key must be a function returning a string")
        priority = raw.pop("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise DefinitionError(f"{where}: priority must be a whole number")
        options = cls(
            name=name,
            retries=_count(raw.pop("retries", 0), f"{where}: retries"),
            retry_delay=seconds(raw.pop("retry_delay", 1.0), f"{where}: retry_delay") or 0.0,
            retry_backoff=float(backoff),
            retry_jitter=bool(raw.pop("retry_jitter", True)),
            max_retry_delay=seconds(raw.pop("max_retry_delay", None), f"{where}: max_retry_delay"),
            retry_on=retry_on,
            timeout=seconds(raw.pop("timeout", None), f"{where}: timeout"),
            resources=resources,
            priority=priority,
            pool=raw.pop("pool", None),
            pool_slots=_count(raw.pop("pool_slots", 1), f"{where}: pool_slots", 1),
            max_concurrency=max_concurrency,
            cache=bool(raw.pop("cache", False)) or cache_key is not None,
            cache_key=cache_key,
            cache_expiration=seconds(
                raw.pop("cache_expiration", None), f"{where}: cache_expiration"
            ),
            outputs=_outputs(raw.pop("outputs", ()), where),
            executor=raw.pop("executor", None),
            isolation=isolation,
            requirements=requirements,
            python=python,
            image=image,
            on_success=_callbacks(raw.pop("on_success", None), where, "on_success"),
            on_failure=_callbacks(raw.pop("on_failure", None), where, "on_failure"),
            on_retry=_callbacks(raw.pop("on_retry", None), where, "on_retry"),
            tags=tuple(raw.pop("tags", ()) or ()),
            label=raw.pop("label", None),
            teardown=_flag(raw.pop("teardown", False), f"{where}: teardown"),
            latest_only=_flag(raw.pop("latest_only", False), f"{where}: latest_only"),
        )
        _refuse_unknown(raw, where, _option_names(cls))
        return options


_TASK_OPTIONS = tuple(f.name for f in fields(TaskOptions))


def _schedule(value: Any, where: str) -> tuple[Any, tuple[Any, ...]]:
    """``@flow(schedule=...)`` as (time schedule, triggers): ``split_schedule``'s answer."""
    if value is None or (isinstance(value, list | tuple) and not value):
        return None, ()
    from pauta.definitions.triggers import split_schedule

    return split_schedule(value, where=where)


def _outputs(value: Any, where: str) -> tuple[Asset, ...]:
    """``outputs=[Asset("x"), "y"]``: what a successful call of the task updates."""
    if not value and not isinstance(value, str):  # None, []: none; "" is refused below
        return ()
    # here, not at the top: schedules and triggers (cron, calendars) are for flows that use them
    from pauta.definitions.triggers import Asset

    items = [value] if isinstance(value, str | Asset) else list(value)
    try:
        return tuple(item if isinstance(item, Asset) else Asset(item) for item in items)
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: outputs: {exc}") from None


def _refuse_unknown(raw: dict[str, Any], where: str, valid: Iterable[str]) -> None:
    """A misspelt option must not be silently ignored (``retrys=3`` would mean no retries):
    refuse it, suggest the closest valid option and list them all."""
    if not raw:
        return
    valid = sorted(valid)
    unknown = sorted(raw)
    message = f"{where}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
    import difflib  # here: only a mistyped option needs it

    close = {name: difflib.get_close_matches(name, valid, n=1) for name in unknown}
    guesses = [(name, match[0]) for name, match in close.items() if match]
    if len(unknown) == 1 and guesses:
        message += f"; did you mean {guesses[0][1]}?"
    elif guesses:
        message += "; did you mean " + ", ".join(f"{m} (for {n})" for n, m in guesses) + "?"
    else:
        message += ";"
    raise DefinitionError(f"{message} valid options: {', '.join(valid)}")


def _option_names(options: type[Any], *, besides: tuple[str, ...] = ()) -> list[str]:
    """The options a decorator takes: the fields of its options class, less ``besides``."""
    return [f.name for f in fields(options) if f.name not in besides]


def _callbacks(value: Any, where: str, option: str) -> tuple[Callable[..., Any], ...]:
    if value is None:
        return ()
    items = tuple(value) if isinstance(value, list | tuple) else (value,)
    if not all(callable(cb) for cb in items):
        raise DefinitionError(f"{where}: {option} must be a function or a list of functions")
    return items


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """Everything ``@flow(...)`` accepts, normalized."""

    name: str
    description: str = ""
    schedule: Any = None
    triggers: tuple[Any, ...] = ()
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    catchup: bool = False
    max_active_runs: int | None = None
    max_active_tasks: int | None = None
    priority: int = 0
    retries: int = 0
    timeout: float | None = None
    deadline: Deadline | None = None
    on_success: tuple[Callable[..., Any], ...] = ()
    on_failure: tuple[Callable[..., Any], ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def build(cls, name: str, description: str, **raw: Any) -> FlowOptions:
        where = f"@flow {name!r}"
        timezone = raw.pop("timezone", None) or "UTC"
        try:
            if timezone != "UTC":  # the default needs no time zone database to be checked
                from zoneinfo import ZoneInfo

                ZoneInfo(timezone)
        except Exception:
            raise DefinitionError(
                f"{where}: unknown timezone {timezone!r}; use an IANA name such as "
                "'Europe/Madrid' or 'America/Argentina/Buenos_Aires'"
            ) from None
        max_active_runs = raw.pop("max_active_runs", None)
        if max_active_runs is not None:
            _count(max_active_runs, f"{where}: max_active_runs", 1)
        max_active_tasks = raw.pop("max_active_tasks", None)
        if max_active_tasks is not None:
            _count(max_active_tasks, f"{where}: max_active_tasks", 1)
        priority = raw.pop("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise DefinitionError(f"{where}: priority must be a whole number")
        schedule, triggers = _schedule(raw.pop("schedule", None), where)
        options = cls(
            name=name,
            description=description,
            schedule=schedule,
            triggers=triggers,
            timezone=timezone,
            start=raw.pop("start", None),
            end=raw.pop("end", None),
            catchup=bool(raw.pop("catchup", False)),
            max_active_runs=max_active_runs,
            max_active_tasks=max_active_tasks,
            priority=priority,
            retries=_count(raw.pop("retries", 0), f"{where}: retries"),
            timeout=seconds(raw.pop("timeout", None), f"{where}: timeout"),
            deadline=as_deadline(raw.pop("deadline", None), where=where),
            on_success=_callbacks(raw.pop("on_success", None), where, "on_success"),
            on_failure=_callbacks(raw.pop("on_failure", None), where, "on_failure"),
            tags=tuple(raw.pop("tags", ()) or ()),
        )
        # the docstring is the description; triggers are given in schedule=
        _refuse_unknown(raw, where, _option_names(cls, besides=("description", "triggers")))
        return options
