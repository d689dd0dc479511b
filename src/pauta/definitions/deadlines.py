"""Deadlines users write in ``@flow(deadline=...)``: when a run should have finished by.

``@flow(deadline=timedelta(hours=2))`` means two hours after the run's logical date;
``Deadline(within=timedelta(hours=2), after="queued", cancel=True)`` counts from when the run
was queued and cancels a run that misses it. These are plain, validated values: when a run's
deadline falls is computed once, when the run is created (``Deadline.due``), and stored with
it; whatever drives the run, and the scheduler, compare it with their clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pauta.core.errors import DefinitionError

DeadlineFrom = Literal["logical_date", "queued"]
FROM: tuple[str, ...] = ("logical_date", "queued")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """A run not finished ``within`` this long ``after`` its logical date (or after it was
    queued) has missed its deadline: the flow's ``on_failure`` callbacks and notifiers hear of
    it once, with an event whose ``what`` is ``"deadline_missed"``, while the run goes on; with
    ``cancel=True`` the run is then cancelled.

    ``within`` is a ``timedelta`` or a number of seconds. A backfill run's logical date is in
    the past by design, so a deadline after the logical date counts from when a backfill run
    was queued.
    """

    within: timedelta
    after: DeadlineFrom = "logical_date"
    cancel: bool = False

    def __post_init__(self) -> None:
        within = self.within
        if isinstance(within, bool) or not isinstance(within, timedelta | int | float):
            raise DefinitionError(
                f"Deadline(within={within!r}): give a timedelta such as timedelta(hours=2), "
                "or a number of seconds"
            )
        if not isinstance(within, timedelta):
            if not math.isfinite(within):
                raise DefinitionError(f"Deadline(within={within!r}): must be a finite time")
            within = timedelta(seconds=within)
        if within <= timedelta(0):
            raise DefinitionError(f"Deadline(within={self.within!r}): must be a positive time")
        object.__setattr__(self, "within", within)
        if self.after not in FROM:
            raise DefinitionError(
                f"Deadline(after={self.after!r}): after must be 'logical_date' or 'queued'"
            )
        if not isinstance(self.cancel, bool):
            raise DefinitionError(f"Deadline(cancel={self.cancel!r}): cancel must be True or False")

    def due(self, *, logical_date: datetime, queued_at: datetime, trigger: str) -> datetime:
        """When a run with this logical date, queued then, must have finished by."""
        from_logical_date = self.after == "logical_date" and trigger != "backfill"
        return (logical_date if from_logical_date else queued_at) + self.within

    def describe(self) -> str:
        """``"within 2:00:00 of the logical date, then cancel"``."""
        origin = "the logical date" if self.after == "logical_date" else "being queued"
        return f"within {self.within} of {origin}" + (", then cancel" if self.cancel else "")

    def spec(self) -> dict[str, Any]:
        """A JSON form ``from_spec`` rebuilds."""
        return {"within": self.within.total_seconds(), "after": self.after, "cancel": self.cancel}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Deadline:
        return cls(
            within=timedelta(seconds=float(spec["within"])),
            after=spec.get("after", "logical_date"),
            cancel=bool(spec.get("cancel", False)),
        )


def as_deadline(value: Any, *, where: str) -> Deadline | None:
    """What ``@flow(deadline=...)`` received, as a ``Deadline`` (None stays None)."""
    if value is None or isinstance(value, Deadline):
        return value
    if isinstance(value, timedelta) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        try:
            return Deadline(within=value)
        except DefinitionError as exc:
            raise DefinitionError(f"{where}: deadline: {exc}") from None
    raise DefinitionError(
        f"{where}: deadline must be a timedelta such as timedelta(hours=2), a number of "
        f"seconds, or Deadline(within=..., after='queued', cancel=True); got "
        f"{type(value).__name__} {value!r}"
    )
