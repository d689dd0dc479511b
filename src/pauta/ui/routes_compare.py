"""The compare page: two runs of one flow side by side, their differences highlighted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from pauta.app.compare import RunsNotComparableError, compare_runs
from pauta.core.errors import RunNotFoundError
from pauta.ui.charts import state_counts
from pauta.ui.render import page
from pauta.ui.session import Session, store_of

router = APIRouter(include_in_schema=False)

RunIds = Annotated[list[str], Query(max_length=10, description="Two run ids.")]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    session: Session,
    run: RunIds = [],  # noqa: B006
    keep: Annotated[bool, Query(description="A and B in the order given.")] = False,
) -> Response:
    """``/compare?run=A&run=B``: what the two runs' checkboxes in the runs list send. A is the
    older run (Δ says what changed since), unless ``keep`` asks for the order given."""
    chosen = [r.strip() for r in run if r.strip()]
    if len(chosen) != 2:
        message = (
            f"Choose two runs to compare ({len(chosen)} chosen): tick two runs of one flow in "
            "the list of runs, or pick one beside 'Compare with' on a run's page."
        )
        return page(request, "error.html", session, {"message": message}, status=400)
    try:
        found = compare_runs(store_of(request), chosen[0], chosen[1], oldest_first=not keep)
    except RunNotFoundError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    except RunsNotComparableError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=400)
    context = {"cmp": found, "nav": "runs", "state_counts": state_counts}
    return page(request, "compare.html", session, context)
