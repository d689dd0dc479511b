"""What the churn examples share: where they keep their files and the model's features.

``weekly_training.py`` trains on these features; ``churn_scoring.py`` scores new customers with
the same ones. (A plain module: it defines no flow.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FEATURES = ["visits", "minutes", "purchases", "tickets", "tenure_days", "discount"]
"""The raw columns, in the order the model reads them."""


def pauta_home() -> Path:
    """Where the examples keep their warehouse, models and scores: the pauta home."""
    return Path(os.environ.get("PAUTA_HOME", ".pauta"))


def feature_matrix(raw: Any) -> Any:
    """Log-scaled counts and two interaction terms, from rows of the FEATURES columns."""
    import numpy as np

    visits, minutes, purchases, tickets, tenure, discount = np.asarray(raw, dtype=float).T
    return np.column_stack(
        [
            np.log1p(visits),
            np.log1p(minutes),
            np.log1p(purchases),
            tickets,
            np.log1p(tenure),
            discount,
            tickets * (visits < 4),
            purchases / (visits + 1),
        ]
    )
