"""What every notifier shares: the ``Event`` it is given, the error it raises, URL masking.

A notifier is any callable taking one ``Event``; the built-in ones (``Webhook``,
``SlackWebhook``, ``Email``) live in their own modules and raise ``NotifyError`` when the
message could not be delivered.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pauta.core.errors import PautaError

EventKind = Literal["task", "flow"]
EventWhat = Literal["success", "failure", "retry", "deadline_missed"]

KINDS: tuple[str, ...] = ("task", "flow")
WHATS: tuple[str, ...] = ("success", "failure", "retry", "deadline_missed")

_ICONS = {"success": "✅", "failure": "❌", "retry": "🔁", "deadline_missed": "⏰"}
_SUMMARY_ERROR_MAX = 300


class NotifyError(PautaError):
    """A notifier could not deliver its message.

    ``target`` is where it was sent, with credentials masked; ``status`` is the HTTP or SMTP
    status code the receiver answered, when it answered one.
    """

    def __init__(self, message: str, *, target: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.target = target
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_notify_error, (str(self), self.target, self.status))


def _rebuild_notify_error(message: str, target: str, status: int | None) -> NotifyError:
    return NotifyError(message, target=target, status=status)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What happened to a task call or a flow run; what every notifier is given.

    ``kind`` is ``"task"`` or ``"flow"``; ``what`` is ``"success"``, ``"failure"``,
    ``"retry"`` or, for a flow run still going after its deadline, ``"deadline_missed"`` (then
    ``deadline_at`` says when it was due). ``task_key`` and ``task_name`` are None for flow
    events. ``error`` is None or a dict with ``type``, ``message`` and ``traceback`` (the
    traceback may be None). Datetimes
    must be timezone-aware. ``url`` is the run's page, when there is one.
    """

    kind: EventKind
    what: EventWhat
    flow: str
    run_id: str
    state: str
    logical_date: datetime
    task_key: str | None = None
    task_name: str | None = None
    attempt: int = 1
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    url: str | None = None
    deadline_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Event kind must be one of {KINDS}, not {self.kind!r}")
        if self.what not in WHATS:
            raise ValueError(f"Event what must be one of {WHATS}, not {self.what!r}")
        if self.kind == "task" and not self.task_key:
            raise ValueError("a task Event needs task_key (the task call's key)")
        if self.kind == "flow" and (self.task_key or self.task_name):
            raise ValueError("a flow Event has no task_key or task_name: leave them None")
        if self.what == "deadline_missed" and (self.kind != "flow" or self.deadline_at is None):
            raise ValueError("a deadline_missed Event is a flow event with deadline_at set")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 0:
            raise ValueError(f"Event attempt must be a whole number >= 0, not {self.attempt!r}")
        for name in ("logical_date", "started_at", "ended_at", "deadline_at"):
            value = getattr(self, name)
            if value is None and name != "logical_date":
                continue
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"Event {name} must be a timezone-aware datetime, not {value!r}")
        if self.error is not None:
            object.__setattr__(self, "error", _normalize_error(self.error))

    @property
    def error_type(self) -> str:
        """The exception's type name, or "" without an error."""
        return self.error["type"] if self.error else ""

    @property
    def error_message(self) -> str:
        """The exception's message, or "" without an error."""
        return self.error["message"] if self.error else ""

    @property
    def traceback(self) -> str:
        """The exception's traceback text, or ""."""
        return (self.error or {}).get("traceback") or ""

    @property
    def outcome(self) -> str:
        """``succeeded``, ``failed``, ``failed attempt N, will retry``, or ``missed its deadline
        (due 2026-03-02 08:00 UTC)``."""
        if self.what == "success":
            return "succeeded"
        if self.what == "failure":
            return "failed"
        if self.what == "deadline_missed" and self.deadline_at is not None:
            due = self.deadline_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            return f"missed its deadline (due {due}) and is still {self.state}"
        return f"failed attempt {self.attempt}, will retry"

    def title(self) -> str:
        """A one-line headline: ``weekly_training: task train-1 failed``."""
        if self.kind == "flow":
            return f"{self.flow} {self.outcome}"
        return f"{self.flow}: task {self.task_key} {self.outcome}"

    def summary(self, *, icon: bool = True) -> str:
        """A short human summary naming the flow, the run, the task and the error."""
        text = f"flow {self.flow} run {self.run_id}"
        if self.kind == "flow":
            text += f" {self.outcome}"
        else:
            text += f": task {self.task_key} {self.outcome}"
            if self.what == "failure" and self.attempt > 1:
                text += f" after {self.attempt} attempts"
        if self.error and self.what != "deadline_missed":  # the outcome says it all
            text += f": {self.error_type}: {first_line(self.error_message, _SUMMARY_ERROR_MAX)}"
        return f"{_ICONS[self.what]} {text}" if icon else text

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: every field (datetimes as ISO 8601 with offsets) and ``summary``."""
        return {
            "kind": self.kind,
            "what": self.what,
            "flow": self.flow,
            "run_id": self.run_id,
            "task_key": self.task_key,
            "task_name": self.task_name,
            "state": str(self.state),
            "attempt": self.attempt,
            "error": dict(self.error) if self.error else None,
            "logical_date": self.logical_date.isoformat(),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "url": self.url,
            "deadline_at": _iso(self.deadline_at),
            "summary": self.summary(),
        }

    def template_fields(self) -> dict[str, str]:
        """The names a message template may use, as text ("" for what is missing)."""
        fields = {
            key: "" if value is None else str(value)
            for key, value in self.to_json().items()
            if key != "error"
        }
        fields.update(
            error_type=self.error_type,
            error_message=self.error_message,
            traceback=self.traceback,
            outcome=self.outcome,
            title=self.title(),
            icon=_ICONS[self.what],
        )
        return fields


TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {
        "kind",
        "what",
        "flow",
        "run_id",
        "task_key",
        "task_name",
        "state",
        "attempt",
        "logical_date",
        "started_at",
        "ended_at",
        "url",
        "deadline_at",
        "summary",
        "error_type",
        "error_message",
        "traceback",
        "outcome",
        "title",
        "icon",
    }
)
"""The ``{names}`` a string template may use; ``Event.template_fields()`` fills them."""

Template = str | Callable[[Event], str]
"""A message template: a ``str.format`` string over ``TEMPLATE_FIELDS``, or a function."""


class Notifier(Protocol):
    """Anything called with one ``Event``: a built-in notifier or a plain function."""

    def __call__(self, event: Event, /) -> None: ...


def check_template(template: Template | None, option: str) -> Template | None:
    """Refuse a template that names unknown fields, when it is built rather than when sent."""
    if template is None or callable(template):
        return template
    if not isinstance(template, str):
        raise TypeError(f"{option} must be a format string or a function of the Event")
    try:
        names = {
            re.split(r"[.\[]", field)[0]
            for _, field, _, _ in string.Formatter().parse(template)
            if field is not None
        }
    except ValueError as exc:
        raise ValueError(f"{option} {template!r} is not a valid format string: {exc}") from None
    unknown = sorted(names - TEMPLATE_FIELDS)
    if unknown or "" in names:
        shown = ", ".join(unknown) or "{} (a positional field)"
        raise ValueError(
            f"{option} {template!r} uses unknown field(s) {shown}; "
            f"available: {', '.join(sorted(TEMPLATE_FIELDS))}"
        )
    return template


def render(template: Template, event: Event) -> str:
    """The template filled in for ``event``."""
    if callable(template):
        return str(template(event))
    return template.format_map(event.template_fields())


def check_event(event: Any, who: str) -> Event:
    """``event`` when it is an ``Event``; else a TypeError saying what was expected."""
    if not isinstance(event, Event):
        raise TypeError(f"{who} is called with a pauta.notify.Event, not {type(event).__name__}")
    return event


def check_timeout(timeout: float, who: str) -> float:
    """``timeout`` as seconds > 0, or a ValueError."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"{who}: timeout must be a number of seconds > 0, not {timeout!r}")
    return float(timeout)


def first_line(text: str, limit: int) -> str:
    """The first line of ``text``, cut to ``limit`` characters with an ellipsis."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# A path segment that looks like a token: long, letters and digits mixed (ids, hex, base64).
_TOKEN_SEGMENT = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~=%]{16,}")


def mask_url(url: str, *, hide_path: bool = False) -> str:
    """``url`` safe to show: no user info, no query values, no token-like path segments.

    With ``hide_path``, everything after the first path segment is masked too (incoming
    webhooks such as Slack's keep their secret in the path).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    segments = parts.path.split("/")
    if hide_path and len(segments) > 2:
        path = "/".join(segments[:2]) + "/***"
    else:
        path = "/".join(_TOKEN_SEGMENT.sub("***", segment) for segment in segments)
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(f"{key}=***" for key, _ in pairs) if pairs else "***"
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _normalize_error(error: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(error, Mapping) or "type" not in error or "message" not in error:
        raise ValueError(
            "Event error must be None or a dict with 'type', 'message' and 'traceback', "
            f"not {error!r}"
        )
    traceback = error.get("traceback")
    return {
        "type": str(error["type"]),
        "message": str(error["message"]),
        "traceback": None if traceback is None else str(traceback),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
