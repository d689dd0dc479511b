"""What a task needs and what a worker has: cpus, memory, gpus and custom resources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}
_NO_CUSTOM: Mapping[str, float] = MappingProxyType({})
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: int | float | str | None) -> int:
    """Bytes from ``2GiB``, ``512MB``, ``1.5G`` or a plain number of bytes.

    >>> parse_memory("2GiB")
    2147483648
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"memory must be a size such as '2GiB', not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"memory cannot be negative: {value!r}")
        return int(value)
    match = _MEMORY_RE.match(value)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(
            f"cannot read memory size {value!r}: use a number with a unit such as "
            "'512MiB', '2GiB' or '4GB'"
        )
    # Decimal, not float: 2.01MB is 2010000 bytes, not 2009999
    from decimal import Decimal

    return int(Decimal(match.group(1)) * _UNITS[unit])


def format_memory(n_bytes: int) -> str:
    """A short human form of a byte count: ``2.0GiB``."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Resources:
    """Resources a task needs (or a worker has).

    ``Resources(cpus=2, memory="2GiB", gpus=1, custom={"db_conn": 1})``. Memory is kept in
    bytes; strings with units are accepted.
    """

    cpus: float = 1.0
    memory: int = 0
    gpus: int = 0
    custom: Mapping[str, float] = field(default_factory=dict)
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __init__(
        self,
        cpus: float = 1.0,
        memory: int | float | str | None = 0,
        gpus: int = 0,
        custom: Mapping[str, float] | None = None,
    ) -> None:
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus < 0:
            raise ValueError(f"cpus must be a number >= 0, not {cpus!r}")
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
            raise ValueError(f"gpus must be a whole number >= 0, not {gpus!r}")
        custom_items = dict(custom or {})
        for name, amount in custom_items.items():
            if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
                raise ValueError(f"custom resource {name!r} must be a number >= 0, not {amount!r}")
        object.__setattr__(self, "cpus", float(cpus))
        object.__setattr__(self, "memory", parse_memory(memory))
        object.__setattr__(self, "gpus", gpus)
        object.__setattr__(self, "custom", MappingProxyType(custom_items))
        object.__setattr__(self, "_hash", _hash_of(self))

    @classmethod
    def _unchecked(
        cls, cpus: float, memory: int, gpus: int, custom: Mapping[str, float]
    ) -> Resources:
        """Build from values already known to be valid (arithmetic on the hot path)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "cpus", cpus)
        object.__setattr__(obj, "memory", memory)
        object.__setattr__(obj, "gpus", gpus)
        object.__setattr__(obj, "custom", MappingProxyType(dict(custom)) if custom else _NO_CUSTOM)
        object.__setattr__(obj, "_hash", _hash_of(obj))
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Resources, (self.cpus, self.memory, self.gpus, dict(self.custom)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (self.cpus, self.memory, self.gpus, dict(self.custom)) == (
            other.cpus,
            other.memory,
            other.gpus,
            dict(other.custom),
        )

    def fits_in(self, free: Resources) -> bool:
        """Whether this request fits in ``free``."""
        if self.cpus > free.cpus + 1e-9 or self.memory > free.memory or self.gpus > free.gpus:
            return False
        if not self.custom:
            return True
        return all(free.custom.get(k, 0) + 1e-9 >= v for k, v in self.custom.items() if v)

    def minus(self, other: Resources) -> Resources:
        custom: dict[str, float] = {}
        if self.custom or other.custom:
            custom = dict(self.custom)
            for k, v in other.custom.items():
                custom[k] = max(custom.get(k, 0) - v, 0)
        return Resources._unchecked(
            max(self.cpus - other.cpus, 0.0),
            max(self.memory - other.memory, 0),
            max(self.gpus - other.gpus, 0),
            custom,
        )

    def plus(self, other: Resources) -> Resources:
        custom: dict[str, float] = {}
        if self.custom or other.custom:
            custom = dict(self.custom)
            for k, v in other.custom.items():
                custom[k] = custom.get(k, 0) + v
        return Resources._unchecked(
            self.cpus + other.cpus, self.memory + other.memory, self.gpus + other.gpus, custom
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpus": self.cpus,
            "memory": self.memory,
            "gpus": self.gpus,
            "custom": dict(self.custom),
        }

    def describe(self) -> str:
        parts = [f"cpus={self.cpus:g}"]
        if self.memory:
            parts.append(f"memory={format_memory(self.memory)}")
        if self.gpus:
            parts.append(f"gpus={self.gpus}")
        parts += [f"{k}={v:g}" for k, v in sorted(self.custom.items())]
        return ", ".join(parts)


def _hash_of(resources: Resources) -> int:
    # computed once: requests are dictionary keys on the dispatch hot path
    custom = tuple(sorted(resources.custom.items()))
    return hash((resources.cpus, resources.memory, resources.gpus, custom))
