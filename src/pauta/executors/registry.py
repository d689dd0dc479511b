"""Executors by name: the one place the engine asks for an executor.

Built-in executors (``local``, ``venv``, ``container``, ``inline``, ``sensor``, ``ray``) are
registered here; packages add their own through the ``pauta.executors`` entry point group,
whose objects are ``ExecutorSpec`` values (or factories taking an ``ExecutorConfig``). Entry
points are read only when a name is not built in or when the registry is listed, so ``pauta
run`` with the built-ins pays nothing for plugins. A plugin that fails to load is kept with its
error: it never stops pauta, and asking for it says what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pauta.core.errors import PautaError
from pauta.core.resources import Resources

if TYPE_CHECKING:
    from pauta.core.clock import Clock
    from pauta.core.settings import Settings
    from pauta.executors.base import Executor

log = logging.getLogger("pauta.executors")

ENTRY_POINT_GROUP = "pauta.executors"

CapacityModel = Literal["slots", "nodes", "unbounded"]
"""How an executor's capacity is counted: ``slots`` (a fixed pool on this machine: the local
pool's processes, the inline executor's threads), ``nodes`` (a cluster whose free resources
change as its nodes come and go), ``unbounded`` (waiting costs a coroutine, not a process)."""


class ExecutorConfig(NamedTuple):
    """What an executor is built from: the settings and capacity of the process running it.

    ``workers`` is the size the engine chose for a pool on this machine; ``store`` is the
    metadata store, for the few executors that read it (sensors watching other runs);
    ``clock`` is the engine's (an executor times attempts and deadlines on it).
    """

    settings: Settings
    capacity: Resources
    workers: int
    store: Any = None
    # the engine's clock, so that attempts are timed on the time the engine reads
    clock: Clock | None = None

    @property
    def results_url(self) -> str:
        return self.settings.results_url

    @property
    def inline_max(self) -> int:
        return self.settings.inline_result_max


class ExecutorSpec(NamedTuple):
    """One executor the registry knows: its name, how to build it and how it counts capacity."""

    name: str
    factory: Callable[[ExecutorConfig], Executor]
    capacity: CapacityModel = "slots"
    summary: str = ""
    source: str = "built in"


class BrokenExecutor(NamedTuple):
    """A plugin's executor that could not be loaded, kept so it can be listed and explained."""

    name: str
    source: str
    error: str


def _local(config: ExecutorConfig) -> Executor:
    from pauta.executors.local import LocalExecutor

    return LocalExecutor(
        workers=config.workers,
        results_url=config.results_url,
        inline_max=config.inline_max,
        clock=config.clock,
    )


def _inline(config: ExecutorConfig) -> Executor:
    from pauta.executors.inline import InlineExecutor

    return InlineExecutor(
        threads=max(1, int(config.capacity.cpus)),
        results_url=config.results_url,
        inline_max=config.inline_max,
        clock=config.clock,
    )


def _sensor(config: ExecutorConfig) -> Executor:
    from pauta.executors.sensor import SensorExecutor

    return SensorExecutor(
        store=config.store,
        results_url=config.results_url,
        inline_max=config.inline_max,
        clock=config.clock,
    )


def _venv(config: ExecutorConfig) -> Executor:
    from pauta.executors.envs import Environments
    from pauta.executors.venv import VenvExecutor

    return VenvExecutor(
        envs=Environments(config.settings.envs_dir),
        workers=config.workers,
        results_url=config.results_url,
        inline_max=config.inline_max,
        home=str(config.settings.home),
        clock=config.clock,
    )


def _container(config: ExecutorConfig) -> Executor:
    from pauta.executors.container import ContainerExecutor

    return ContainerExecutor(
        workers=config.workers,
        results_url=config.results_url,
        inline_max=config.inline_max,
        home=config.settings.home,
        clock=config.clock,
    )


def _ray(config: ExecutorConfig) -> Executor:
    try:
        from pauta.executors.ray_executor import RayExecutor
    except ImportError as exc:
        raise PautaError(
            f"the ray executor needs Ray, which cannot be imported ({exc}): "
            "pip install 'pauta[ray]'"
        ) from None
    settings = config.settings
    return RayExecutor(
        address=settings.ray_address,
        results_url=config.results_url,
        inline_max=config.inline_max,
        clock=config.clock,
    )


BUILT_IN: tuple[ExecutorSpec, ...] = (
    ExecutorSpec("local", _local, "slots", "a pool of warm worker processes on this machine"),
    ExecutorSpec("venv", _venv, "slots", "warm worker processes in each task's own virtualenv"),
    ExecutorSpec("container", _container, "slots", "each attempt in its own container (podman)"),
    ExecutorSpec("inline", _inline, "slots", "threads of this process (debugging, notebooks)"),
    ExecutorSpec("sensor", _sensor, "unbounded", "sensors waiting as coroutines of one thread"),
    ExecutorSpec("ray", _ray, "nodes", "a Ray cluster: pauta decides what starts, Ray where"),
)


class ExecutorRegistry:
    """Executor specs by name: built-ins first, then the ``pauta.executors`` entry points."""

    def __init__(
        self,
        specs: Iterable[ExecutorSpec] = BUILT_IN,
        *,
        entry_points: Callable[[], Iterable[Any]] | None = None,
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._broken: dict[str, BrokenExecutor] = {}
        self._entry_points = entry_points or _installed_entry_points
        self._plugins_loaded = False

    def register(self, spec: ExecutorSpec) -> None:
        """Add an executor (a plugin's, or a test's); a built-in name cannot be replaced."""
        existing = self._specs.get(spec.name)
        if existing is not None and existing.source == "built in":
            raise PautaError(f"executor {spec.name!r} is built in and cannot be replaced")
        self._specs[spec.name] = spec
        self._broken.pop(spec.name, None)

    def spec(self, name: str) -> ExecutorSpec:
        """The spec registered under ``name``, loading plugins if it is not built in."""
        spec = self._specs.get(name)
        if spec is None:
            self._load_plugins()
            spec = self._specs.get(name)
        if spec is not None:
            return spec
        broken = self._broken.get(name)
        if broken is not None:
            raise PautaError(
                f"executor {name!r} comes from {broken.source}, which failed to load: "
                f"{broken.error}; fix or reinstall that package (`pauta plugins list` shows it)"
            )
        known = sorted(self._specs)
        import difflib  # here: only a mistyped name needs it

        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise PautaError(
            f"unknown executor {name!r}: {hint}the executors are {', '.join(map(repr, known))}"
            " (plugins add more through the 'pauta.executors' entry point group)"
        )

    def create(self, name: str, config: ExecutorConfig) -> Executor:
        """A new, not yet started executor of that name."""
        spec = self.spec(name)
        executor = spec.factory(config)
        if getattr(executor, "name", None) != name:
            # the engine keys outcomes and cancels by name; a plugin must say which it is
            executor.name = name  # type: ignore[misc]
        return executor

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._specs)

    def specs(self) -> list[ExecutorSpec]:
        self._load_plugins()
        return [self._specs[name] for name in sorted(self._specs)]

    def broken(self) -> list[BrokenExecutor]:
        self._load_plugins()
        return [self._broken[name] for name in sorted(self._broken)]

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in self._entry_points():
            source = _source_of(entry)
            try:
                loaded = entry.load()
                spec = _as_spec(entry.name, loaded, source)
                self.register(spec)
            except Exception as exc:  # a broken plugin never stops pauta
                log.warning("executor plugin %s (%s) failed to load: %s", entry.name, source, exc)
                if entry.name not in self._specs:
                    self._broken[entry.name] = BrokenExecutor(
                        entry.name, source, f"{type(exc).__name__}: {exc}"
                    )


def _as_spec(name: str, loaded: Any, source: str) -> ExecutorSpec:
    if isinstance(loaded, ExecutorSpec):
        if loaded.name != name:
            raise PautaError(
                f"the entry point is named {name!r} but its ExecutorSpec says {loaded.name!r}"
            )
        return ExecutorSpec(loaded.name, loaded.factory, loaded.capacity, loaded.summary, source)
    if callable(loaded):
        summary = (getattr(loaded, "__doc__", None) or "").strip().splitlines()
        return ExecutorSpec(name, loaded, "slots", summary[0] if summary else "", source)
    raise PautaError(
        f"the entry point must name an ExecutorSpec or a factory taking an ExecutorConfig, "
        f"not a {type(loaded).__name__}"
    )


def _source_of(entry: Any) -> str:
    dist = getattr(entry, "dist", None)
    if dist is not None:
        return f"package {dist.metadata['Name']} {dist.version}"
    return f"entry point {getattr(entry, 'value', entry)!r}"


def _installed_entry_points() -> Iterable[Any]:
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


_default: ExecutorRegistry | None = None


def default_registry() -> ExecutorRegistry:
    """The process-wide registry (built-ins plus installed plugins)."""
    global _default
    if _default is None:
        _default = ExecutorRegistry()
    return _default
