"""Flows the MLflow tests run with `pauta run`."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

from pauta import context, flow, task


@task(label="train[{kind}]")
def train(kind: str, folder: str) -> float:
    ctx = context()
    ctx.log_param("kind", kind)
    for step in range(3):
        ctx.log_metric("loss", 1.0 / (step + 1) + (kind == "forest"), step=step)
    accuracy = 0.91 if kind == "forest" else 0.84
    ctx.log_metric("accuracy", accuracy)
    report = Path(folder) / f"{kind}.txt"
    report.write_text(f"{kind} scored {accuracy}\n")
    ctx.log_artifact("report.txt", str(report))
    if kind == "forest":
        model = Path(folder) / "model.bin"
        model.write_bytes(b"a forest")
        ctx.log_artifact("model.bin", str(model))
        version = ctx.register_model("churn", "model.bin")
        ctx.log_param("version", version)
    return accuracy


@flow
def weekly(folder: str, week: int = 1) -> None:
    train("logreg", folder)
    train("forest", folder)


@task
def before(n: int) -> int:
    for i in range(n):
        context().log_metric("seen", i, step=i)
    return n


@task
def stop_mlflow(n: int) -> int:
    """Stops the MLflow server (its process group is in MLFLOW_TEST_PGID) and waits until
    it no longer answers."""
    os.killpg(int(os.environ["MLFLOW_TEST_PGID"]), signal.SIGTERM)
    uri = os.environ["PAUTA_MLFLOW_TRACKING_URI"]
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=1).close()
        except OSError:
            break
        time.sleep(0.1)
    return n


@task
def after(n: int) -> int:
    ctx = context()
    for i in range(n):
        ctx.log_metric("after", i * 2, step=i)
    ctx.log_param("late", "yes")
    return n


@flow
def outage(n: int = 12) -> int:
    seen = before(n)
    stopped = stop_mlflow(seen)
    return after(stopped).result()
