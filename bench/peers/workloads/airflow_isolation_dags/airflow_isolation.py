"""Airflow's isolating operators on no-op tasks: `python airflow_isolation.py FLOW KIND N`.

The workloads of bench/isolation_peers.py, shaped like bench/isolation_flows.py: *chain*, N
no-op tasks each depending on the previous one; *fanout*, one root, N - 2 parallel no-ops that
depend on it and one sink that waits for them all (N tasks); *startup*, one plain task. KIND says
which operator runs every task of the DAG:

- ``python``: ``@task`` (a PythonOperator), in the process of ``dag.test()``;
- ``virtualenv``: ``@task.virtualenv`` (PythonVirtualenvOperator) with no requirements and its
  defaults: every task instance creates a virtualenv of its own in a temporary folder;
- ``virtualenv-cached``: the same with ``venv_cache_path=BENCH_VENV_CACHE``: the first task
  builds the environment there and later ones (and later runs) reuse it;
- ``docker``: DockerOperator running ``python3 -c pass`` in ``BENCH_IMAGE``;
- ``task-docker``: ``@task.docker``, the DockerOperator that runs a Python function (the
  function and its arguments go in by environment variables, the result comes back by a file).

Containers are removed when their task ends (``auto_remove="force"``), as pauta removes its own;
the Docker Engine API is DOCKER_HOST. As in airflow_dags/airflow_flows.py, ``dag.test()`` only
runs a DAG it finds in the DAGs folder, so this folder is AIRFLOW__CORE__DAGS_FOLDER and the
module builds the one DAG named by FLOW, KIND and N (passed on through the environment).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

START = datetime(2024, 1, 1)
IMAGE = os.environ.get("BENCH_IMAGE") or "localhost/pauta-test:1"


def noop() -> None:
    return None


def _docker_options() -> dict[str, Any]:
    from docker.types import Ulimit

    # The runtime's default open-file and process limits exceed this machine's hard limits
    # ("error setting rlimit type 7"): pauta's container tasks pass limits for the same reason.
    limits = [Ulimit(name=name, soft=1024, hard=1024) for name in ("nofile", "nproc")]
    return {"image": IMAGE, "auto_remove": "force", "ulimits": limits}


def _docker_operator(task_id: str) -> Any:
    from airflow.providers.docker.operators.docker import DockerOperator

    return DockerOperator(task_id=task_id, command=["python3", "-c", "pass"], **_docker_options())


def _decorated(kind: str) -> Callable[[str], Any]:
    """A factory of one task of the given kind, by task id."""
    if kind == "docker":
        return _docker_operator
    if kind == "python":
        decorated = task(noop)
    elif kind == "virtualenv":
        decorated = task.virtualenv(noop)
    elif kind == "virtualenv-cached":
        decorated = task.virtualenv(venv_cache_path=os.environ["BENCH_VENV_CACHE"])(noop)
    elif kind == "task-docker":
        decorated = task.docker(**_docker_options())(noop)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return lambda task_id: decorated.override(task_id=task_id)()


def new_dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False)


def chain(kind: str, n: int) -> DAG:
    make = _decorated(kind)
    with new_dag(f"chain_{kind}_{n}") as dag:
        previous = make("noop_0")
        for i in range(1, n):
            current = make(f"noop_{i}")
            previous >> current
            previous = current
    return dag


def fanout(kind: str, n: int) -> DAG:
    make = _decorated(kind)
    with new_dag(f"fanout_{kind}_{n}") as dag:
        root = make("root")
        middle = [make(f"noop_{i}") for i in range(max(n - 2, 0))]
        sink = make("sink")
        root >> middle
        middle >> sink
    return dag


def startup(kind: str, n: int) -> DAG:
    with new_dag(f"startup_{kind}") as dag:
        _decorated(kind)("noop")
    return dag


DAGS: dict[str, Callable[[str, int], DAG]] = {
    "chain": chain,
    "fanout": fanout,
    "startup": startup,
}

if __name__ == "__main__":
    os.environ["BENCH_FLOW"], os.environ["BENCH_KIND"], os.environ["BENCH_N"] = sys.argv[1:4]

# Module level, so that the DAG-folder parse inside dag.test() finds the same DAG.
dag = DAGS[os.environ.get("BENCH_FLOW", "startup")](
    os.environ.get("BENCH_KIND", "python"), int(os.environ.get("BENCH_N", "1"))
)

if __name__ == "__main__":
    run = dag.test()
    if str(run.state) not in ("success", "DagRunState.SUCCESS"):
        sys.exit(1)
