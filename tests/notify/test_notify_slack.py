"""``SlackWebhook`` posting a Slack-compatible payload to a real HTTP server on loopback."""

from __future__ import annotations

import json
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pauta.notify import TEMPLATE_FIELDS, Event, NotifyError, SlackWebhook

TOKEN_PATH = "/services/T0AAA1111/B0BBB2222/XyZ0123456789abcdefGHIJ"


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": "task",
        "what": "failure",
        "flow": "weekly_training",
        "run_id": "06hx3k2mq1a7bcde",
        "task_key": "train-1",
        "task_name": "train",
        "state": "FAILED",
        "attempt": 1,
        "error": {
            "type": "ValueError",
            "message": "labels <y> & features differ",
            "traceback": "Traceback (most recent call last):\nValueError: labels differ",
        },
        "logical_date": datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
    }
    return Event(**(fields | changes))


@dataclass
class Slack:
    """A real HTTP server on 127.0.0.1 standing in for an incoming webhook."""

    server: ThreadingHTTPServer
    posts: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    status: int = 200
    answer: bytes = b"ok"

    def url(self, path: str = TOKEN_PATH) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def slack() -> Iterator[Slack]:
    state: Slack

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.posts.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Slack(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_posts_text_and_blocks(slack: Slack) -> None:
    SlackWebhook(slack.url())(event())
    [(path, headers, payload)] = slack.posts
    assert path == TOKEN_PATH
    assert headers["Content-Type"] == "application/json"
    assert payload["text"] == (
        "❌ flow weekly_training run 06hx3k2mq1a7bcde: task train-1 failed: "
        "ValueError: labels &lt;y&gt; &amp; features differ"
    )
    assert [block["type"] for block in payload["blocks"]] == ["section", "section", "section"]
    facts = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert "*Task*\ntrain-1 (train)" in facts
    assert "*Run*\n`06hx3k2mq1a7bcde`" in facts
    assert payload["blocks"][2]["text"]["text"].startswith("```Traceback")


def test_a_run_page_becomes_a_button() -> None:
    payload = SlackWebhook("https://hooks.example.com/x").payload(
        event(url="http://pauta.local/runs/06hx3k2mq1a7bcde")
    )
    button = payload["blocks"][-1]["elements"][0]
    assert button["url"] == "http://pauta.local/runs/06hx3k2mq1a7bcde"


def test_a_flow_success_is_short() -> None:
    flow_ok = Event(
        kind="flow",
        what="success",
        flow="etl",
        run_id="r9",
        state="SUCCEEDED",
        logical_date=datetime(2026, 3, 2, tzinfo=UTC),
    )
    payload = SlackWebhook("https://hooks.example.com/x").payload(flow_ok)
    assert payload["text"] == "✅ flow etl run r9 succeeded"
    assert len(payload["blocks"]) == 2


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{icon} {flow}/{task_key}: {outcome} ({error_type})", "❌ weekly_training/train-1: fail"),
        (lambda e: f"{e.flow} is sad", "weekly_training is sad"),
        ("attempt {attempt:>3}", "attempt   1"),
    ],
)
def test_a_template_replaces_the_summary(slack: Slack, template: Any, text: str) -> None:
    SlackWebhook(slack.url(), template=template)(event())
    assert slack.posts[0][2]["text"].startswith(text)


def test_a_template_with_an_unknown_field_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match=r"unknown field.*flwo.*available: attempt") as caught:
        SlackWebhook("https://hooks.example.com/x", template="{flwo} failed")
    assert set(TEMPLATE_FIELDS) <= set(str(caught.value).replace(",", " ").split())
    with pytest.raises(ValueError, match="positional"):
        SlackWebhook("https://hooks.example.com/x", template="{} failed")
    with pytest.raises(ValueError, match="not a valid format string"):
        SlackWebhook("https://hooks.example.com/x", template="{flow")


def test_an_error_answer_raises_without_showing_the_token(slack: Slack) -> None:
    slack.status, slack.answer = 404, b"no_service"
    with pytest.raises(NotifyError) as caught:
        SlackWebhook(slack.url())(event())
    message = str(caught.value)
    assert slack.url("/services/***") in message
    assert "HTTP 404" in message
    assert "no_service" in message
    assert caught.value.status == 404
    said = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert "XyZ0123456789" not in said
    assert "B0BBB2222" not in said


def test_a_closed_port_raises_naming_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        NotifyError, match=rf"could not POST to http://127\.0\.0\.1:{port}/services/"
    ):
        SlackWebhook(f"http://127.0.0.1:{port}{TOKEN_PATH}")(event())


def test_repr_hides_the_secret_path() -> None:
    hook = SlackWebhook(f"https://hooks.slack.com{TOKEN_PATH}")
    assert repr(hook) == "SlackWebhook('https://hooks.slack.com/services/***', timeout=10)"
    assert hook.url == "https://hooks.slack.com/services/***"


def test_a_long_traceback_keeps_its_end_within_slack_limits() -> None:
    long_tb = "Traceback\n" + "  frame\n" * 2000 + "ValueError: the real cause"
    payload = SlackWebhook("https://hooks.example.com/x").payload(
        event(error={"type": "ValueError", "message": "x" * 5000, "traceback": long_tb})
    )
    assert len(payload["text"]) <= 3000
    code = payload["blocks"][2]["text"]["text"]
    assert len(code) <= 3000
    assert code.endswith("ValueError: the real cause```")
