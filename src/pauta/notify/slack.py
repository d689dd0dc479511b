"""``SlackWebhook``: a short summary posted to a Slack-compatible incoming webhook.

The payload is ``{"text": ..., "blocks": [...]}``. Slack shows the blocks and uses ``text`` for
notifications; Mattermost and Rocket.Chat incoming webhooks read ``text``.
"""

from __future__ import annotations

from typing import Any

from pauta.notify.notifiers import (
    Event,
    Template,
    check_event,
    check_template,
    check_timeout,
    render,
)
from pauta.notify.webhook import HttpTarget

# Slack refuses a section whose text is over 3000 characters.
_SECTION_MAX = 3000
_TRACEBACK_MAX = 2800


class SlackWebhook:
    """Post each ``Event`` to a Slack-compatible incoming webhook ``url``.

    ``template`` replaces the one-line summary: a ``str.format`` string over the fields listed
    in ``pauta.notify.TEMPLATE_FIELDS`` (``"{icon} {flow}: {outcome}"``) or a function of the
    ``Event``. The webhook URL is a secret: only its host and first path segment are shown.
    """

    __slots__ = ("_target", "template", "timeout")

    def __init__(
        self, url: str, *, timeout: float = 10.0, template: Template | None = None
    ) -> None:
        self._target = HttpTarget(url, "SlackWebhook", hide_path=True)
        self.timeout = check_timeout(timeout, "SlackWebhook")
        self.template = check_template(template, "SlackWebhook template")

    @property
    def url(self) -> str:
        """The URL, with its secret part masked."""
        return self._target.shown

    def payload(self, event: Event) -> dict[str, Any]:
        """The JSON body sent for ``event``."""
        check_event(event, "SlackWebhook")
        text = render(self.template, event) if self.template else event.summary()
        text = _cut(escape(text), _SECTION_MAX)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "fields": [_field(k, v) for k, v in _facts(event)]},
        ]
        if event.traceback:
            tail = escape(event.traceback.rstrip())[-_TRACEBACK_MAX:].replace("```", "`\u200b``")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{tail}```"}})
        if event.url:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open run"},
                            "url": event.url,
                        }
                    ],
                }
            )
        return {"text": text, "blocks": blocks}

    def __call__(self, event: Event, /) -> None:
        """Send ``event``; ``NotifyError`` when the webhook did not accept it."""
        self._target.post_json(
            self.payload(event), headers={}, timeout=self.timeout, who="SlackWebhook"
        )

    def __repr__(self) -> str:
        return f"SlackWebhook({self._target.shown!r}, timeout={self.timeout:g})"


def escape(text: str) -> str:
    """Text safe in Slack mrkdwn: ``&``, ``<`` and ``>`` as entities (Markdown reads them too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _facts(event: Event) -> list[tuple[str, str]]:
    facts = [("Flow", event.flow), ("Run", f"`{event.run_id}`")]
    if event.task_key:
        task = event.task_key
        if event.task_name and event.task_name != event.task_key:
            task += f" ({event.task_name})"
        facts.append(("Task", task))
    facts += [
        ("State", str(event.state)),
        ("Attempt", str(event.attempt)),
        ("Logical date", event.logical_date.isoformat()),
    ]
    return facts


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape(value)}", 2000)}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
