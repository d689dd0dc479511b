"""Flows whose tasks run in virtualenvs, for the venv executor's tests (loaded by path)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

import pauta
from pauta import context, flow, task

# A tiny package that only these environments install (a wheel kept beside this file): the
# host environment can never have it, whatever else it installs.
PROBE = str(Path(__file__).resolve().parent / "wheels" / "pauta_venv_probe-1.0-py3-none-any.whl")
MISSING = "pauta-no-such-package-7f3c==1.0"


@task(isolation="venv", requirements=[PROBE])
def probe_info(label: str) -> dict[str, object]:
    import pauta_venv_probe as probe

    return {
        "label": label,
        "probe": probe.__version__,
        "prefix": sys.prefix,
        "pid": os.getpid(),
        "host_pauta_deps": importlib.util.find_spec("sqlalchemy") is not None,
    }


@task
def host_has_probe() -> bool:
    return importlib.util.find_spec("pauta_venv_probe") is not None


@task
def describe(info: dict[str, object]) -> str:
    """A process task fed by a venv task's result."""
    return f"{info['label']}: probe {info['probe']} in {info['prefix']}"


@flow
def probe_then_process(labels: list[str]) -> dict[str, object]:
    infos = [probe_info(label) for label in labels]
    return {
        "infos": [info.result() for info in infos],
        "described": describe(infos[0]).result(),
        "host_has_probe": host_has_probe().result(),
    }


@task(isolation="venv", requirements=[MISSING], retries=1, retry_delay=0)
def never_built() -> None:
    raise AssertionError("the environment cannot exist")


@flow
def broken_environment() -> None:
    never_built().result()


@task(isolation="venv", requirements=[PROBE])
def uses_the_runtime(n: int) -> dict[str, object]:
    ctx = context()
    ctx.log_metric("loss", 0.25, step=n)
    ctx.logger.info("from the task logger in the venv")
    logging.getLogger("venv-user").warning("from a user logger in the venv")
    print("printed in the venv")
    token = pauta.secret("VENV_TEST_TOKEN")
    print(f"the token is {token}")
    return {
        "run_id": ctx.run_id,
        "flow": ctx.flow_name,
        "attempt": ctx.attempt,
        "key": ctx.task_key,
        "token_length": len(token),
    }


@flow
def runtime_inside() -> dict[str, object]:
    return uses_the_runtime(3).result()


@task(isolation="venv", timeout=1.0)
def sleeps_in_a_venv() -> None:
    import time

    time.sleep(30)


@flow
def venv_timeout() -> None:
    sleeps_in_a_venv().result()


@task(isolation="venv", requirements=[PROBE])
def probe_object() -> object:
    import pauta_venv_probe as probe

    return probe.Probe()  # an instance of a class only the env has


@task
def type_name(value: object) -> str:
    return type(value).__name__


@flow
def value_the_host_cannot_load() -> str:
    return type_name(probe_object()).result()


@task
def host_only_value() -> object:
    from rich.text import Text  # rich comes with pauta: the host has it, an environment not

    return Text("made on the host")


@task(isolation="venv", requirements=[PROBE])
def type_name_in_venv(value: object) -> str:
    return type(value).__name__


@flow
def value_the_environment_cannot_load() -> str:
    return type_name_in_venv(host_only_value()).result()
