"""Jinja2 templates and the filters they share: times, durations, states, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from pauta.core.states import FlowRunState, State
from pauta.ui.charts import format_seconds

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

TASK_STATES = [str(s) for s in State]
RUN_STATES = [str(s) for s in FlowRunState]


def time_tag(value: datetime | str | None, fmt: str = "long") -> Markup:
    """``<time datetime="...">`` in UTC; pauta.js rewrites the text in the browser's timezone."""
    if value is None:
        return Markup('<span class="muted">&ndash;</span>')
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    iso = value.isoformat()
    text = value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{escape(iso)}" data-format="{escape(fmt)}">{text}</time>')


def zoned_time(value: datetime | str | None, timezone: str | None) -> Markup:
    """``<time>`` in ``timezone``, named (``2026-12-07 06:00 Europe/Madrid``): a schedule's
    next tick reads best in the zone its cron is written in, so pauta.js leaves it as it is
    (``data-zone``). The UTC time is in the tooltip."""
    if value is None:
        return Markup('<span class="muted">&ndash;</span>')
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    shown = local.strftime("%Y-%m-%d %H:%M" if local.second == 0 else "%Y-%m-%d %H:%M:%S")
    utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(
        f'<time datetime="{escape(value.isoformat())}" data-zone="{escape(zone.key)}" '
        f'title="{escape(utc)}">{escape(shown)} {escape(zone.key)}</time>'
    )


def state_badge(state: str | None) -> Markup:
    if not state:
        return Markup("")
    return Markup(f'<span class="state s-{escape(state)}">{escape(state)}</span>')


def node_tag(node: str | None) -> Markup:
    """Where an attempt ran: a host name as it is, a Ray node id (56 hex digits) cut to its
    first 12, the whole id in the title."""
    if not node:
        return Markup('<span class="muted">&ndash;</span>')
    if len(node) > 16 and all(c in "0123456789abcdef" for c in node):
        return Markup(
            f'<span class="mono" title="Ray node {escape(node)}">{escape(node[:12])}</span>'
        )
    return Markup(f'<span class="mono">{escape(node)}</span>')


def to_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(value, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def pretty(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, default=str, sort_keys=True)


def build() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(
        time=time_tag,
        zoned=zoned_time,
        duration=format_seconds,
        state=state_badge,
        node=node_tag,
        tojson_safe=to_json,
        pretty=pretty,
    )
    env.globals.update(task_states=TASK_STATES, run_states=RUN_STATES)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


templates = build()
