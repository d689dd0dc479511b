"""Event-driven flows around the weekly training: scoring new customer files as they arrive,
and a report each time a new model is deployed.

- ``score_customers`` runs once per CSV file dropped in ``.pauta/incoming/`` (``on_file``). It
  first waits, without holding a worker, until a model is deployed (``sensors.file``), then
  writes each customer's churn probability to ``.pauta/scored/``.
- ``model_report`` runs after every deployment (``on_asset("churn_model")``, the asset the
  training's ``deploy`` task declares) and rewrites ``.pauta/models/report.md``.

With ``make server`` running, try::

    mkdir -p .pauta/incoming
    printf 'customer,visits,minutes,purchases,tickets,tenure_days,discount\\n' > /tmp/c.csv
    printf 'ana,2,5,0,3,40,0.2\\nluis,9,60,3,0,900,0.0\\n' >> /tmp/c.csv
    mv /tmp/c.csv .pauta/incoming/customers-1.csv
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

from churn_features import FEATURES, feature_matrix, pauta_home

from pauta import context, flow, on_asset, on_file, sensors, task

INCOMING = pauta_home() / "incoming"
MODELS = pauta_home() / "models"


@task
def score(path: str, deployed: list[str]) -> str:
    """Write ``customer,churn_probability`` for every row of ``path``."""
    info = json.loads(Path(deployed[0]).read_text())
    model = pickle.loads(Path(info["model"]).read_bytes())
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [c for c in ["customer", *FEATURES] if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{path} lacks the columns {', '.join(missing)}")
    probabilities = (
        model.predict_proba(feature_matrix([[row[c] for c in FEATURES] for row in rows]))[:, 1]
        if rows
        else []
    )
    out = pauta_home() / "scored" / Path(path).name
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "churn_probability"])
        for row, probability in zip(rows, probabilities, strict=True):
            writer.writerow([row["customer"], f"{probability:.4f}"])
    if rows:
        context().log_metric("mean_churn_probability", float(sum(probabilities) / len(rows)))
    context().logger.info("scored %d customers with %s", len(rows), info["kind"])
    return str(out)


@flow(schedule=on_file(str(INCOMING / "*.csv")))
def score_customers(path: str) -> str:
    """Score a new file of customers with the deployed churn model."""
    deployed = sensors.file(str(MODELS / "deployed.json"), poke_interval=10, timeout=3600)
    return score(path, deployed).result()


@task
def write_report() -> str:
    """A markdown table of every model deployed so far, newest first."""
    cards = sorted(
        (json.loads(p.read_text()) | {"file": p.stem} for p in MODELS.glob("churn-*.json")),
        key=lambda card: card["file"],
        reverse=True,
    )
    lines = [
        "# Deployed churn models",
        "",
        "| model | kind | accuracy | run |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c['file']} | {c['kind']} | {c['accuracy']:.3f} | {c['run_id']} |" for c in cards]
    report = MODELS / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return str(report)


@flow(schedule=on_asset("churn_model"))
def model_report() -> str:
    """Rewrite the report of deployed models after each deployment."""
    return write_report().result()
