"""The Event every notifier gets, and ``Webhook`` posting it to a real HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import pickle
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pauta.notify import Event, NotifyError, Webhook

WHEN = datetime(2026, 3, 2, 3, 0, tzinfo=timezone(timedelta(hours=-3)))


def failed_task(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": "task",
        "what": "failure",
        "flow": "weekly_training",
        "run_id": "06hx3k2mq1a7bcde",
        "task_key": "train-1",
        "task_name": "train",
        "state": "FAILED",
        "attempt": 3,
        "error": {
            "type": "ValueError",
            "message": "accuracy is NaN",
            "traceback": 'Traceback (most recent call last):\n  File "f.py"\nValueError: NaN',
        },
        "logical_date": WHEN,
        "started_at": datetime(2026, 3, 2, 6, 0, 1, tzinfo=UTC),
        "ended_at": datetime(2026, 3, 2, 6, 0, 9, tzinfo=UTC),
    }
    return Event(**(fields | changes))


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request and answers ``status``."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    answer: bytes = b"ok"
    extra_headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append(
                Received(self.command, self.path, dict(self.headers), self.rfile.read(length))
            )
            if state.hold is not None:
                state.hold.wait(10)
            try:
                self.send_response(state.status)
                for name, value in state.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except ConnectionError:
                pass  # the client gave up waiting (the timeout test)

        do_POST = do_GET = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    if state.hold is not None:
        state.hold.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def everything_said(exc: BaseException) -> str:
    """The message, the repr and the whole chained traceback, as a log would show them."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


# Event -------------------------------------------------------------------------------------


def test_event_to_json_has_every_field_and_iso_datetimes_with_offsets() -> None:
    data = failed_task().to_json()
    assert data["kind"] == "task"
    assert data["what"] == "failure"
    assert data["task_key"] == "train-1"
    assert data["error"]["type"] == "ValueError"
    assert data["url"] is None
    assert data["logical_date"] == "2026-03-02T03:00:00-03:00"
    assert datetime.fromisoformat(data["started_at"]) == datetime(2026, 3, 2, 6, 0, 1, tzinfo=UTC)
    assert data["ended_at"].endswith("+00:00")
    assert "train-1" in data["summary"]
    assert json.loads(json.dumps(data)) == data


def test_a_flow_event_has_no_task_and_may_have_no_error() -> None:
    event = Event(
        kind="flow",
        what="success",
        flow="etl",
        run_id="r1",
        state="SUCCEEDED",
        logical_date=WHEN,
    )
    data = event.to_json()
    assert (data["task_key"], data["task_name"], data["error"]) == (None, None, None)
    assert data["started_at"] is None
    assert event.summary() == "✅ flow etl run r1 succeeded"


def test_summaries_name_the_flow_run_task_and_error() -> None:
    assert failed_task().summary() == (
        "❌ flow weekly_training run 06hx3k2mq1a7bcde: task train-1 failed after 3 attempts: "
        "ValueError: accuracy is NaN"
    )
    retry = failed_task(what="retry", state="RETRYING", attempt=1)
    assert retry.summary().startswith("🔁 flow weekly_training run 06hx3k2mq1a7bcde: task train-1")
    assert "failed attempt 1, will retry" in retry.summary()
    assert failed_task().title() == "weekly_training: task train-1 failed"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"kind": "step"}, "kind"),
        ({"what": "done"}, "what"),
        ({"task_key": None}, "task_key"),
        ({"logical_date": datetime(2026, 3, 2)}, "timezone-aware"),
        ({"ended_at": "2026-03-02"}, "timezone-aware"),
        ({"attempt": -1}, "attempt"),
        ({"error": {"message": "no type"}}, "'type'"),
    ],
)
def test_a_malformed_event_is_refused(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        failed_task(**changes)


def test_a_flow_event_with_a_task_is_refused() -> None:
    with pytest.raises(ValueError, match="flow Event has no task_key"):
        failed_task(kind="flow")


# Webhook -----------------------------------------------------------------------------------


def test_webhook_posts_the_event_as_json(receiver: Receiver) -> None:
    hook = Webhook(receiver.url("/hooks/pauta?source=ci"), headers={"X-Team": "ml"})
    hook(failed_task())
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/pauta?source=ci"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Team"] == "ml"
    assert request.json() == failed_task().to_json()


def test_webhook_is_a_plain_callback(receiver: Receiver) -> None:
    callbacks = [Webhook(receiver.url())]
    for callback in callbacks:
        callback(failed_task(what="success", state="SUCCEEDED", error=None))
    assert receiver.requests[0].json()["what"] == "success"


def test_user_info_in_the_url_becomes_basic_auth(receiver: Receiver) -> None:
    url = receiver.url().replace("http://", "http://robot:s3cr%40t@")
    hook = Webhook(url)
    hook(failed_task())
    auth = receiver.requests[0].headers["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "robot:s3cr@t"
    assert "s3cr" not in repr(hook)
    assert "robot" not in repr(hook)


def test_a_500_answer_raises_naming_the_url_and_status(receiver: Receiver) -> None:
    receiver.status, receiver.answer = 500, b"database is down"
    hook = Webhook(receiver.url("/hook?token=tok-12345"), headers={"Authorization": "Bearer abc"})
    with pytest.raises(NotifyError) as caught:
        hook(failed_task())
    message = str(caught.value)
    assert receiver.url("/hook?token=***") in message
    assert "HTTP 500" in message
    assert "database is down" in message
    assert caught.value.status == 500
    assert caught.value.target == receiver.url("/hook?token=***")
    said = everything_said(caught.value)
    assert "tok-12345" not in said
    assert "Bearer abc" not in said


def test_a_closed_port_raises_naming_the_url(closed_port: int) -> None:
    url = f"http://user:hunter2@127.0.0.1:{closed_port}/hook"
    with pytest.raises(NotifyError, match=rf"127\.0\.0\.1:{closed_port}/hook") as caught:
        Webhook(url)(failed_task())
    assert "could not POST" in str(caught.value)
    assert caught.value.status is None
    assert "hunter2" not in everything_said(caught.value)


def test_a_redirect_is_an_error_not_a_silent_get(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.extra_headers = {"Location": receiver.url("/elsewhere")}
    with pytest.raises(NotifyError, match=r"HTTP 302.*redirect to .*/elsewhere") as caught:
        Webhook(receiver.url())(failed_task())
    assert caught.value.status == 302
    assert [r.method for r in receiver.requests] == ["POST"]


def test_a_receiver_that_never_answers_times_out(receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    with pytest.raises(NotifyError, match=r"no answer within 0\.2 s"):
        Webhook(receiver.url(), timeout=0.2)(failed_task())


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://example.com/hook", "https:// or http://"),
        ("https:///no-host", "https:// or http://"),
        ("example.com/hook", "https:// or http://"),
        ("https://example.com/a hook", "spaces"),
        ("https://example.com:99999/hook", "not a valid URL"),
    ],
)
def test_a_bad_url_is_refused_when_built(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Webhook(url)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Webhook("https://example.com/h", timeout=0)
    with pytest.raises(TypeError, match="headers"):
        Webhook("https://example.com/h", headers={"X-N": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"called with a pauta\.notify\.Event"):
        Webhook("https://example.com/h")({"what": "failure"})  # type: ignore[arg-type]


def test_repr_shows_header_names_but_no_secrets() -> None:
    hook = Webhook(
        "https://bot:pw-789@example.com/api/hooks/0123456789abcdef0123?key=k-456",
        headers={"Authorization": "Bearer tok-123"},
    )
    shown = repr(hook)
    assert shown == (
        "Webhook('https://***@example.com/api/hooks/***?key=***', "
        "headers=['Authorization'], timeout=10)"
    )
    assert hook.url == "https://***@example.com/api/hooks/***?key=***"


def test_notifiers_and_their_errors_survive_pickling(receiver: Receiver) -> None:
    # Task options, callbacks included, travel to worker processes; errors travel back.
    hook = pickle.loads(pickle.dumps(Webhook(receiver.url(), headers={"X-Team": "ml"})))
    hook(failed_task())
    assert receiver.requests[0].headers["X-Team"] == "ml"
    error = NotifyError("Webhook: POST to http://h/ got HTTP 500", target="http://h/", status=500)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.target, copy.status) == (str(error), "http://h/", 500)
