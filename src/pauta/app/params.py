"""The size limit on a run's parameters, checked wherever a run is created from them.

Kept apart from ``pauta.app.triggering`` so that ``pauta run`` checks it without importing the
flows folder's discovery and the store.
"""

from __future__ import annotations

import json
from typing import Any

from pauta.core.errors import ParameterError
from pauta.core.settings import describe_size


def check_params_size(flow_name: str, params_json: Any, limit: int) -> None:
    """ParameterError when the parameters take more than ``limit`` bytes of JSON: they are
    stored with the run and shown by every listing and page of it, so large data must be
    passed by reference."""
    size = len(json.dumps(params_json).encode())
    if size > limit:
        raise ParameterError(
            f"the parameters of flow {flow_name!r} are {describe_size(size)} of JSON, over the "
            f"limit of {describe_size(limit)} (PAUTA_MAX_PARAMS_BYTES): pass large data as a "
            "path or URI that the flow reads, not as the data itself"
        )
