"""``example-json``: ``Measurement`` results stored as readable JSON instead of a pickle."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """What a task might return: a metric's name, value and unit."""

    name: str
    value: float
    unit: str = ""


class MeasurementJson:
    """A ``pauta.serializers`` plugin: ``types``, ``extension``, ``dumps`` and ``loads``."""

    types = (Measurement,)
    extension = "json"

    @staticmethod
    def dumps(value: Measurement) -> bytes:
        return json.dumps(asdict(value), sort_keys=True).encode()

    @staticmethod
    def loads(data: bytes) -> Any:
        return Measurement(**json.loads(data))
