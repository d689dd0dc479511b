"""The churn model as a service: an ASGI app (Starlette) that predicts churn for posted rows.

``weekly_training`` deploys it when run with ``--param serve=true``: its deploy task calls
``services.deploy("churn", app="churn_service:create_app", config={"model": path, ...})`` and
the supervisor of ``pauta server`` runs two replicas of it behind http://127.0.0.1:8600. Each
new model is a new revision: traffic moves to it once it answers ``/health``, with no failed
request; a model file that does not load fails the deploy and the old model keeps serving.

    curl -s -X POST http://127.0.0.1:8600/predict -H 'content-type: application/json' \\
      -d '{"rows": [{"visits": 2, "minutes": 5, "purchases": 0, "tickets": 3,
                     "tenure_days": 40, "discount": 0.2}]}'
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

from churn_features import FEATURES, feature_matrix
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_ROWS = 10_000


def _rows(body: Any) -> list[list[float]]:
    """The FEATURES of each posted row: ``{"rows": [{...}, ...]}``, a list, or one row."""
    rows = body.get("rows", [body]) if isinstance(body, dict) else body
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise ValueError(f"post 1 to {MAX_ROWS} rows: {{'rows': [{{...}}, ...]}}")
    values = []
    for number, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"row {number} is not an object of {', '.join(FEATURES)}")
        missing = [name for name in FEATURES if name not in row]
        if missing:
            raise ValueError(f"row {number} lacks {', '.join(missing)}")
        try:
            numbers = [float(row[name]) for name in FEATURES]
        except (TypeError, ValueError):
            raise ValueError(f"row {number}: every feature must be a number") from None
        if not all(math.isfinite(x) and x >= 0 for x in numbers):
            raise ValueError(f"row {number}: features must be finite and not negative")
        values.append(numbers)
    return values


def create_app(config: dict[str, Any]) -> Starlette:
    """The service of the model file ``config["model"]`` (loaded once, at start)."""
    path = Path(config["model"])
    model = pickle.loads(path.read_bytes())
    about = {
        "model": path.name,
        "kind": config.get("kind"),
        "accuracy": config.get("accuracy"),
        "run_id": config.get("run_id"),
    }

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", **about})

    async def predict(request: Request) -> JSONResponse:
        try:
            rows = _rows(await request.json())
        except ValueError as exc:  # bad JSON too
            return JSONResponse({"detail": str(exc)}, status_code=422)
        probabilities = model.predict_proba(feature_matrix(rows))[:, 1]
        predictions = [
            {"churn": bool(p >= 0.5), "probability": round(float(p), 4)} for p in probabilities
        ]
        return JSONResponse({"model": about["model"], "predictions": predictions})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/", health),
            Route("/predict", predict, methods=["POST"]),
        ]
    )
