"""Task functions the executor tests run in worker processes (loaded with core.loading)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from pauta.definitions.context import context

_import_log = os.environ.get("PAUTA_TEST_IMPORT_LOG")
if _import_log:
    with open(_import_log, "a") as _handle:
        _handle.write(f"{os.getpid()}\n")


class FakeTask:
    """Stands in for pauta's Task wrapper: it keeps the plain function at ``.fn``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        raise AssertionError("the executor must call the plain function")


def add(a, b):
    return a + b


def double(x):
    return 2 * x


double = FakeTask(double)


def pid():
    return os.getpid()


def nothing():
    return None


def blob(n):
    return b"x" * n


def boom(text):
    raise ValueError(f"boom {text}")


def noisy():
    print("hello from print")
    context().logger.info("hello from the logger")
    sys.stderr.write("hello from stderr\n")
    subprocess.run([sys.executable, "-c", "print('hello from a child process')"], check=True)
    return "done"


def exit_with(code):
    os._exit(code)


def segfault():
    import ctypes

    print("about to crash")
    return ctypes.string_at(0)


def sleeper(pid_file, seconds=300.0):
    child = subprocess.Popen(["sleep", str(int(seconds))])
    with open(pid_file, "w") as handle:
        handle.write(str(child.pid))
    time.sleep(seconds)
    return "woke up"


def slow_value(value, seconds):
    time.sleep(seconds)
    return value


async def async_add(a, b):
    await asyncio.sleep(0.01)
    return a + b


def context_info():
    ctx = context()
    ctx.log_metric("accuracy", 0.93)
    ctx.log_metric("loss", 0.5, step=3)
    return {
        "run_id": ctx.run_id,
        "flow_name": ctx.flow_name,
        "attempt": ctx.attempt,
        "key": ctx.task_key,
        "task_name": ctx.task_name,
        "params": ctx.params,
    }


def cuda_env():
    return os.environ.get("CUDA_VISIBLE_DEVICES"), os.getpid()


def home_env():
    return os.environ.get("PAUTA_HOME")


def big_array(n):
    import numpy as np

    return np.arange(n, dtype=np.float64)


def total(values, extra=None):
    extra = extra or {}
    return sum(values) + sum(len(v) if isinstance(v, bytes) else v for v in extra.values())


def make_adder(n):
    def adder(x):
        return x + n

    return adder
