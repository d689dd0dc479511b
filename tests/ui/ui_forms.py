"""A flow with a parameter of every common type, for the trigger form's tests (copied into the
browser tests' flows folder too)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from pauta import flow


class Color(Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Warmup(BaseModel):
    steps: Annotated[int, Field(ge=0, description="Steps before the full rate")] = 0
    linear: bool = True


class Optimizer(BaseModel):
    """How the model learns."""

    name: Literal["sgd", "adam"] = "adam"
    lr: Annotated[float, Field(gt=0, le=1, description="Learning rate")] = 0.01
    warmup: Warmup = Warmup()


@flow
def tuned(
    mode: Literal["fast", "full"] = "fast",
    color: Color = Color.GREEN,
    dry_run: bool = True,
    epochs: Annotated[int, Field(ge=1, le=100, description="Passes over the data")] = 10,
    start: date = date(2026, 1, 1),
    at: datetime | None = None,
    tags: list[str] = ["base"],  # noqa: B006 (pydantic copies defaults)
    sizes: list[int] | None = None,
    optimizer: Optimizer = Optimizer(),  # noqa: B008
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", max_length=3)] = "ABC",
    limit: int | None = None,
    extra: dict[str, int] = {},  # noqa: B006
) -> dict[str, Any]:
    """Returns what it was given, by type."""
    return {
        "mode": mode,
        "color": color.name,
        "dry_run": dry_run,
        "epochs": epochs,
        "start": start.isoformat(),
        "at": at.isoformat() if at else None,
        "tags": tags,
        "sizes": sizes,
        "optimizer": optimizer.model_dump(),
        "code": code,
        "limit": limit,
        "extra": extra,
    }


# what a flow's author, or a person posting the form, could slip into it: shown, never run
HOSTILE = '"><img src=x onerror=window.__pwned=1>'


class Sneaky(BaseModel):
    inner: Annotated[str, Field(description=f"inner {HOSTILE}")] = HOSTILE


@flow
def hostile(
    note: Annotated[str, Field(description=f"<script>window.__pwned=1</script>{HOSTILE}")] = (
        HOSTILE
    ),
    deep: Sneaky = Sneaky(),  # noqa: B008
    counts: dict[str, int] = {},  # noqa: B006
) -> None:
    """Its parameters' descriptions and defaults hold markup."""
