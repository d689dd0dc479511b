"""Flows for bench/sensors.py (imported by the engine's worker processes too)."""

from __future__ import annotations

from pauta import flow, sensors


@flow
def many_sensors(folder: str, n: int, poke_interval: float = 1.0) -> int:
    """``n`` file sensors waiting at once, each for its own file."""
    waiting = [
        sensors.file(f"{folder}/{i}.ready", poke_interval=poke_interval, timeout=600)
        for i in range(n)
    ]
    return sum(len(w.result()) for w in waiting)
