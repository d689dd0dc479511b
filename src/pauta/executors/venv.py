"""The ``venv`` executor: tasks in their own virtualenvs, each with a warm pool of workers.

An item names its environment (``WorkItem.venv``: requirements and interpreter). The first item
for an environment waits while a thread takes the environment into use (``Environments.acquire``:
built once, or built by another process meanwhile, or already there); then a ``LocalExecutor``
whose workers run that environment's interpreter takes it and every later item for it. A warm
worker keeps its interpreter and the flow modules it imported, so the second task in an
environment pays a pipe round trip, not an interpreter start-up. A build that fails ends each
waiting attempt with kind ``environment`` and the installer's tail; the retry policy decides
what happens next, and the next attempt tries the build again.

Every method but the build thread's runs on the engine's thread, as for the local pool.
"""

from __future__ import annotations

import os
import site
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.definitions.environments import VenvSpec
from pauta.executors.base import (
    ErrorInfo,
    FailsAttempts,
    WakePipe,
    Wakeup,
    WorkItem,
    WorkOutcome,
)
from pauta.executors.envs import Env, EnvBuildError, Environments, env_key
from pauta.executors.local import LocalExecutor
from pauta.executors.processes import append_to_log

_INTERRUPTED = ErrorInfo(
    "Interrupted", "the executor shut down before the task finished", "", "interrupted"
)
_CANCELLED = ErrorInfo("Cancelled", "the task was cancelled", "", "cancelled")
_NO_VENV = VenvSpec()


@dataclass(slots=True)
class _Pool:
    env: Env
    executor: LocalExecutor


class VenvExecutor(FailsAttempts):
    """Runs items in warm worker processes of their virtualenvs, built on first use.

    Each environment's pool grows up to ``workers`` processes like the local pool; the engine's
    capacity accounting bounds how many tasks run at once across them all.
    """

    name = "venv"

    def __init__(
        self,
        *,
        envs: Environments,
        workers: int | None = None,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
        home: str | None = None,
    ) -> None:
        self._clock = clock or get_clock()
        # the engine's own home: its workers read secrets and write files under it, whatever
        # PAUTA_HOME another engine of this process exported first
        self._home = home
        self._envs = envs
        self._size = max(1, workers or os.cpu_count() or 1)
        self._results_url = results_url
        self._inline_max = inline_max
        self._wakeup: Wakeup | None = None
        self._pipe: WakePipe | None = None
        self._keys: dict[VenvSpec, str] = {}
        self._pools: dict[str, _Pool] = {}
        self._waiting: dict[str, list[WorkItem]] = {}  # items whose environment is being taken
        self._built: deque[tuple[str, Env | None, EnvBuildError | None]] = deque()
        self._unread = 0  # bytes the build threads wrote (or will write) to the pipe, not read
        self._ready: list[WorkOutcome] = []
        self._waitables: list[Any] | None = None
        self._parts: list[list[Any]] = []
        self._closing = False

    # -- the protocol -------------------------------------------------------------------------
    def start(self, wakeup: Wakeup) -> None:
        """Nothing starts until an item needs an environment."""
        self._wakeup = wakeup
        self._pipe = WakePipe(wakeup)

    def slots(self) -> int:
        return self._size

    def submit(self, items: Sequence[WorkItem]) -> None:
        if self._closing:
            for item in items:
                self._ready.append(self._failed(item, _INTERRUPTED, interrupted=True))
            self._wake()
            return
        batches: dict[str, list[WorkItem]] = {}
        for item in items:
            spec = item.venv or _NO_VENV
            key = self._keys.get(spec)
            if key is None:
                key = self._keys[spec] = env_key(spec)
            if key in self._pools:
                batches.setdefault(key, []).append(item)
                continue
            waiting = self._waiting.get(key)
            if waiting is None:
                self._waiting[key] = [item]
                self._unread += 1
                threading.Thread(
                    target=self._take, args=(key, spec), name=f"pauta-venv-{key}", daemon=True
                ).start()
            else:
                waiting.append(item)
        for key, batch in batches.items():
            self._pools[key].executor.submit(batch)

    def waitables(self) -> list[Any]:
        parts = [pool.executor.waitables() for pool in self._pools.values()]
        if (
            self._waitables is None
            or len(parts) != len(self._parts)
            or any(new is not old for new, old in zip(parts, self._parts, strict=True))
        ):
            self._parts = parts
            assert self._pipe is not None
            self._waitables = [self._pipe.read_fd, *(x for part in parts for x in part)]
        return self._waitables

    def collect(self) -> list[WorkOutcome]:
        out, self._ready = self._ready, []
        if self._unread:
            self._drain_pipe()
        while self._built:
            self._on_taken(*self._built.popleft(), out)
        for pool in self._pools.values():
            found = pool.executor.collect()
            if found:
                out.extend(found)
        return out

    def cancel(self, run_id: str, key: str) -> bool:
        for waiting in self._waiting.values():
            for index, item in enumerate(waiting):
                if item.run.run_id == run_id and item.key == key:
                    del waiting[index]
                    _note(item, "the attempt was cancelled")
                    self._ready.append(self._failed(item, _CANCELLED))
                    self._wake()
                    return True
        return any(pool.executor.cancel(run_id, key) for pool in self._pools.values())

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closing:
            return
        self._closing = True
        self._envs.stop()  # installers still running are killed; their builds start again later
        for waiting in self._waiting.values():
            for item in waiting:
                self._ready.append(self._failed(item, _INTERRUPTED, interrupted=True))
            waiting.clear()
        for pool in self._pools.values():
            pool.executor.shutdown(kill=kill)
            self._ready.extend(pool.executor.collect())
            pool.env.release()
        if self._ready:
            self._wake()

    # -- taking environments into use -----------------------------------------------------------
    def _take(self, key: str, spec: VenvSpec) -> None:
        """The build thread: take the environment into use (building it if needed)."""
        env: Env | None = None
        error: EnvBuildError | None = None
        try:
            env = self._envs.acquire(spec)
        except EnvBuildError as exc:
            error = exc
        except Exception as exc:  # a bug or a full disk must still end the waiting attempts
            error = EnvBuildError(
                f"building the virtualenv failed: {type(exc).__name__}: {exc}",
                traceback.format_exc(),
            )
        self._built.append((key, env, error))
        assert self._pipe is not None
        self._pipe.wake()

    def _drain_pipe(self) -> None:
        assert self._pipe is not None
        self._unread = max(0, self._unread - self._pipe.drain())

    def _on_taken(
        self, key: str, env: Env | None, error: EnvBuildError | None, out: list[WorkOutcome]
    ) -> None:
        waiting = self._waiting.pop(key, [])
        if env is None:
            assert error is not None
            info = ErrorInfo("EnvironmentBuildError", str(error), error.tail, "environment")
            for item in waiting:
                _note(item, str(error))
                out.append(self._failed(item, info))
            return
        if self._closing:
            env.release()
            out.extend(self._failed(item, _INTERRUPTED, interrupted=True) for item in waiting)
            return
        pool = LocalExecutor(
            workers=self._size,
            results_url=self._results_url,
            inline_max=self._inline_max,
            python=str(env.python),
            sys_path=project_paths(sys.path),
            environ={
                "VIRTUAL_ENV": str(env.path),
                "PATH": f"{env.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                **({"PAUTA_HOME": self._home} if self._home else {}),
            },
        )
        assert self._wakeup is not None
        pool.start(self._wakeup)
        self._pools[key] = _Pool(env, pool)
        self._waitables = None
        if env.built:
            for item in waiting:
                _note(item, f"built the virtualenv {env.path} in {env.seconds:.1f} s")
        if waiting:
            pool.submit(waiting)

    # -- helpers --------------------------------------------------------------------------------
    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()


def _note(item: WorkItem, text: str) -> None:
    """A line of the executor's own in the attempt's log, which its worker has not made yet."""
    with suppress(OSError):
        os.makedirs(os.path.dirname(item.log_path), exist_ok=True)
    append_to_log(item.log_path, text)


def project_paths(path: Sequence[str]) -> list[str]:
    """The entries of an interpreter's ``sys.path`` that hold the user's code (the folder of
    a flow, a ``src`` folder), leaving out its standard library and site-packages: a
    virtualenv's worker may import the first, never the second."""
    prefixes = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    with suppress(Exception):
        prefixes.add(os.path.realpath(site.getuserbase()))
    kept = []
    for entry in path:
        real = os.path.realpath(entry or os.getcwd())
        parts = real.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            continue
        if any(real == p or real.startswith(p + os.sep) for p in prefixes):
            continue
        if entry not in kept:
            kept.append(entry)
    return kept
