"""The weekly training pipeline from the course notes.

1. fetch last week's data from the data warehouse,
2. extract features from it,
3. train two models, A and B, on those features (in parallel),
4. compare both on a held-out test set,
5. deploy A if A is better, else B (if the better one is good enough).

The "warehouse" is a SQLite file this example fills itself with a week of generated customer
activity (nothing is downloaded). Run it with::

    pauta run examples/weekly_training.py
    pauta run examples/weekly_training.py --param end=2026-11-23 --param min_accuracy=0.9
    pauta run examples/weekly_training.py --param forest_in=venv
    pauta trigger weekly_training --flows examples --param serve=true   # with `make server`

With ``forest_in=venv`` the random forest trains in a virtualenv of its own whose scikit-learn is
pinned to the version this environment scores with (built once under the pauta home by uv, or
pip, on the first run; later runs reuse it), while the logistic regression trains in an ordinary
worker process: the pinned version keeps the trained pickle loadable wherever the model is
scored, whatever else changes in the server's environment.

With ``serve=true`` the deploy step also deploys the model as a new revision of the churn service
(``examples/churn_service.py``), which answers ``POST http://127.0.0.1:8600/predict``.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import sys
from datetime import date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from churn_features import FEATURES, feature_matrix, pauta_home

from pauta import Asset, Resources, context, flow, services, task


def _generate_day(day: date, rows: int = 400) -> list[tuple[Any, ...]]:
    """One day of customer activity; churn depends on the features, with noise."""
    import numpy as np

    rng = np.random.default_rng(int(day.strftime("%Y%m%d")))
    visits = rng.poisson(6, rows)
    minutes = rng.gamma(2.0, 15.0, rows)
    purchases = rng.poisson(1.2, rows)
    tickets = rng.poisson(0.6, rows)
    tenure = rng.integers(1, 2000, rows)
    discount = rng.uniform(0, 0.3, rows)
    score = (
        -0.25 * visits
        - 0.02 * minutes
        - 0.6 * purchases
        + 0.9 * tickets
        - 0.0008 * tenure
        + 4.0 * discount
        + 0.5 * (tickets > 2) * (visits < 4)
        + 1.8 * (minutes < 12) * (purchases == 0)
        + rng.normal(0, 0.6, rows)
    )
    churned = (score > -1.6).astype(int)
    return [
        (day.isoformat(), int(v), float(m), int(p), int(t), int(d), float(x), int(c))
        for v, m, p, t, d, x, c in zip(
            visits, minutes, purchases, tickets, tenure, discount, churned, strict=True
        )
    ]


def ensure_warehouse(path: Path, start: date, end: date) -> None:
    """Create the warehouse table and fill in any missing day of [start, end)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS activity (day TEXT, visits INT, minutes REAL, "
            "purchases INT, tickets INT, tenure_days INT, discount REAL, churned INT)"
        )
        day = start
        while day < end:
            present = db.execute(
                "SELECT 1 FROM activity WHERE day = ? LIMIT 1", (day.isoformat(),)
            ).fetchone()
            if not present:
                db.executemany(
                    "INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _generate_day(day)
                )
            day += timedelta(days=1)


@task(retries=3, retry_delay=2.0)
def load_week(end: date) -> dict[str, Any]:
    """Rows of the seven days before ``end`` from the warehouse."""
    import numpy as np

    start = end - timedelta(days=7)
    warehouse = pauta_home() / "warehouse.db"
    ensure_warehouse(warehouse, start, end)
    with sqlite3.connect(warehouse) as db:
        rows = db.execute(
            f"SELECT day, {', '.join(FEATURES)}, churned FROM activity "
            "WHERE day >= ? AND day < ? ORDER BY day",
            (start.isoformat(), end.isoformat()),
        ).fetchall()
    context().logger.info("loaded %d rows from %s to %s", len(rows), start, end)
    return {
        "days": [r[0] for r in rows],
        "X": np.array([r[1:-1] for r in rows], dtype=float),
        "y": np.array([r[-1] for r in rows], dtype=int),
    }


@task
def build_features(data: dict[str, Any]) -> dict[str, Any]:
    """The model's features (see churn_features); the last day is held out for testing."""
    import numpy as np

    features = feature_matrix(data["X"])
    days = np.array(data["days"])
    test = days == max(data["days"])
    print(f"{int((~test).sum())} training rows, {int(test.sum())} test rows")
    return {
        "X_train": features[~test],
        "y_train": data["y"][~test],
        "X_test": features[test],
        "y_test": data["y"][test],
    }


def fit_model(features: dict[str, Any], kind: str) -> Any:
    """Fit model A (logistic regression) or B (random forest)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logreg":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    elif kind == "forest":
        model = RandomForestClassifier(n_estimators=150, max_depth=8, random_state=0, n_jobs=1)
    else:
        raise ValueError(f"unknown model kind {kind!r}: use 'logreg' or 'forest'")
    model.fit(features["X_train"], features["y_train"])
    train_accuracy = float(model.score(features["X_train"], features["y_train"]))
    context().log_metric("train_accuracy", train_accuracy)
    context().logger.info(
        "trained %s: train accuracy %.3f (scikit-learn %s, environment %s)",
        kind,
        train_accuracy,
        version("scikit-learn"),
        sys.prefix,
    )
    return model


# labels name each call after its model: train[logreg] and train[forest] in the CLI and the UI
TRAINING = {
    "resources": Resources(cpus=1, memory="256MiB"),
    "priority": 10,
    "label": "train[{kind}]",
}
train = task(name="train", **TRAINING)(fit_model)
# The same training in its own virtualenv, pinned to the scikit-learn that scores the model.
PINNED_REQUIREMENTS = [f"scikit-learn=={version('scikit-learn')}", f"numpy=={version('numpy')}"]
train_pinned = task(
    name="train_pinned", isolation="venv", requirements=PINNED_REQUIREMENTS, **TRAINING
)(fit_model)


@task(label="evaluate[{kind}]")
def evaluate(model: Any, features: dict[str, Any], kind: str) -> float:
    """Accuracy on the held-out day (``kind`` names the model in the charts)."""
    accuracy = float(model.score(features["X_test"], features["y_test"]))
    context().log_metric("accuracy", accuracy)
    return accuracy


CHURN_PORT = int(os.environ.get("PAUTA_CHURN_PORT", "8600"))
"""Where the churn service answers (examples/churn_service.py)."""


@task(outputs=[Asset("churn_model")])
def deploy(model: Any, accuracy: float, kind: str, serve: bool = False) -> str:
    """Save the model with its metrics and point ``deployed.json`` at it; with ``serve``, make
    it the revision the churn service answers with (its supervisor runs in `pauta server`)."""
    folder = pauta_home() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    model_path = folder / f"churn-{kind}-{stamp}.pkl"
    model_path.write_bytes(pickle.dumps(model))
    metrics = {"kind": kind, "accuracy": accuracy, "run_id": context().run_id}
    model_path.with_suffix(".json").write_text(json.dumps(metrics, indent=2))
    (folder / "deployed.json").write_text(
        json.dumps({"model": str(model_path.resolve()), **metrics}, indent=2)
    )
    context().logger.info("deployed %s (accuracy %.3f)", model_path.name, accuracy)
    if serve:
        config = {"model": str(model_path.resolve()), **metrics}
        revision = services.deploy(
            "churn", app="churn_service:create_app", config=config, replicas=2, port=CHURN_PORT
        )
        context().logger.info("%s serves on http://127.0.0.1:%d", revision, CHURN_PORT)
    return str(model_path)


@flow(schedule="0 3 * * MON", timezone="America/Argentina/Buenos_Aires")
def weekly_training(
    end: date | None = None,
    min_accuracy: float = 0.7,
    forest_in: Literal["process", "venv"] = "process",
    serve: bool = False,
) -> dict[str, Any]:
    """Retrain the churn model on last week's data and deploy the better of two models."""
    end = end or context().interval.end.date()
    feats = build_features(load_week(end))
    train_forest = train_pinned if forest_in == "venv" else train
    a, b = train(feats, "logreg"), train_forest(feats, "forest")
    score_a, score_b = evaluate(a, feats, "logreg"), evaluate(b, feats, "forest")
    kind, best, best_score = (
        ("logreg", a, score_a.result())
        if score_a.result() >= score_b.result()
        else ("forest", b, score_b.result())
    )
    summary: dict[str, Any] = {
        "logreg": score_a.result(),
        "forest": score_b.result(),
        "best": kind,
        "deployed": None,
    }
    if best_score >= min_accuracy:
        summary["deployed"] = deploy(best, best_score, kind, serve).result()
    else:
        context().logger.warning(
            "best accuracy %.3f < %.3f: not deploying", best_score, min_accuracy
        )
    return summary
