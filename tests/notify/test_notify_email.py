"""``Email`` through a real SMTP server (aiosmtpd) on loopback; notifier settings URLs."""

from __future__ import annotations

import asyncio
import pickle
import socket
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pauta.notify import (
    Email,
    Event,
    NotifyError,
    SlackWebhook,
    Webhook,
    notifier_from_url,
    notifiers_from_env,
)

PASSWORD = "c0rrect-h0rse"


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": "flow",
        "what": "failure",
        "flow": "weekly_training",
        "run_id": "06hx3k2mq1a7bcde",
        "state": "FAILED",
        "attempt": 1,
        "error": {
            "type": "TaskFailed",
            "message": "task 'train-1' failed after 3 attempts: ValueError: accuracy is NaN",
            "traceback": 'Traceback (most recent call last):\n  File "flows/w.py", line 9\n',
        },
        "logical_date": datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
        "url": "http://127.0.0.1:8080/runs/06hx3k2mq1a7bcde",
    }
    return Event(**(fields | changes))


@dataclass
class Mailbox:
    """What the SMTP server received, and how it answers."""

    port: int = 0
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        if ok:
            self.logins.append(data.login.decode())
        # handled=False: aiosmtpd answers the 535 itself instead of leaving the client waiting.
        return AuthResult(success=ok, handled=False)


class LoopbackController(Controller):
    """aiosmtpd's threaded controller on an OS-chosen port (it expects a fixed one)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def start(mailbox: Mailbox, **smtp: Any) -> LoopbackController:
    controller = LoopbackController(
        mailbox, hostname="127.0.0.1", port=0, server_hostname="mx.test", **smtp
    )
    controller.start()
    mailbox.port = controller.port
    return controller


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = start(box)
    yield box
    controller.stop()


@pytest.fixture
def auth_mailbox() -> Iterator[Mailbox]:
    """A server that offers AUTH LOGIN/PLAIN without TLS (aiosmtpd allows it when told)."""
    box = Mailbox()
    controller = start(box, authenticator=box.authenticate, auth_require_tls=False)
    yield box
    controller.stop()


def everything_said(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_sends_a_plain_text_mail_with_the_error(mailbox: Mailbox) -> None:
    notify = Email(
        to=["ml@example.com", "Ops <ops@example.com>"],
        sender="pauta@example.com",
        host="127.0.0.1",
        port=mailbox.port,
    )
    notify(event())
    [(mail_from, recipients, message)] = mailbox.messages
    assert mail_from == "pauta@example.com"
    assert recipients == ["ml@example.com", "ops@example.com"]
    assert message["Subject"] == "[pauta] weekly_training failed (run 06hx3k2mq1a7bcde)"
    assert message["To"] == "ml@example.com, Ops <ops@example.com>"
    assert message["X-Pauta-Run"] == "06hx3k2mq1a7bcde"
    assert message.get_content_type() == "text/plain"
    text = message.get_content()
    assert "ValueError: accuracy is NaN" in text
    assert 'File "flows/w.py", line 9' in text
    assert "Run page:     http://127.0.0.1:8080/runs/06hx3k2mq1a7bcde" in text
    assert "pauta runs show 06hx3k2mq1a7bcde" in text


def test_a_task_retry_and_a_custom_subject(mailbox: Mailbox) -> None:
    retry = event(kind="task", what="retry", task_key="train-1", task_name="train", attempt=2)
    Email(to="ml@example.com", host="127.0.0.1", port=mailbox.port)(retry)
    Email(
        to="ml@example.com",
        host="127.0.0.1",
        port=mailbox.port,
        subject_template="{flow}: {error_type}\nin {task_key}",
    )(retry)
    subjects = [message["Subject"] for _, _, message in mailbox.messages]
    assert subjects == [
        "[pauta] weekly_training: task train-1 failed attempt 2, will retry (run 06hx3k2mq1a7bcde)",
        "weekly_training: TaskFailed in train-1",
    ]


def test_logs_in_with_auth(auth_mailbox: Mailbox) -> None:
    notify = Email(
        to="ml@example.com",
        host="127.0.0.1",
        port=auth_mailbox.port,
        username="robot",
        password=PASSWORD,
    )
    notify(event())
    assert auth_mailbox.logins == ["robot"]
    assert len(auth_mailbox.messages) == 1


def test_a_wrong_password_raises_without_showing_it(auth_mailbox: Mailbox) -> None:
    notify = Email(
        to="ml@example.com",
        host="127.0.0.1",
        port=auth_mailbox.port,
        username="robot",
        password="wr0ng-pa55",
    )
    with pytest.raises(NotifyError, match="refused the login of 'robot'") as caught:
        notify(event())
    assert caught.value.status == 535
    assert caught.value.target == f"smtp://127.0.0.1:{auth_mailbox.port}"
    assert "wr0ng-pa55" not in everything_said(caught.value)
    assert auth_mailbox.messages == []


def test_login_against_a_server_without_auth_raises(mailbox: Mailbox) -> None:
    notify = Email(
        to="a@x.org", host="127.0.0.1", port=mailbox.port, username="u", password=PASSWORD
    )
    with pytest.raises(NotifyError, match="AUTH extension not supported") as caught:
        notify(event())
    assert PASSWORD not in everything_said(caught.value)


def test_starttls_against_a_server_without_it_raises(mailbox: Mailbox) -> None:
    notify = Email(to="a@x.org", host="127.0.0.1", port=mailbox.port, starttls=True)
    with pytest.raises(NotifyError, match="STARTTLS extension not supported"):
        notify(event())
    assert mailbox.messages == []


def test_a_refused_recipient_raises_naming_it(mailbox: Mailbox) -> None:
    mailbox.refuse = {"gone@example.com"}
    notify = Email(to="ml@example.com, gone@example.com", host="127.0.0.1", port=mailbox.port)
    with pytest.raises(NotifyError, match=r"refused gone@example\.com \(550 5\.1\.1") as caught:
        notify(event())
    assert caught.value.status == 550
    assert [r for _, r, _ in mailbox.messages] == [["ml@example.com"]]
    mailbox.refuse = {"ml@example.com"}
    with pytest.raises(NotifyError, match=r"refused ml@example\.com"):
        Email(to="ml@example.com", host="127.0.0.1", port=mailbox.port)(event())


def test_a_closed_port_raises_naming_the_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notify = Email(to="a@x.org", host="127.0.0.1", port=port, username="u", password=PASSWORD)
    with pytest.raises(NotifyError, match=rf"through smtp://127\.0\.0\.1:{port} failed") as caught:
        notify(event())
    assert PASSWORD not in everything_said(caught.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"to": []}, "at least one address"),
        ({"to": "not-an-address"}, "not an email address"),
        ({"to": "a@x.org", "sender": "nobody"}, "sender"),
        ({"to": "a@x.org", "starttls": True, "ssl": True}, "not both"),
        ({"to": "a@x.org", "username": "u"}, "both username and password"),
        ({"to": "a@x.org", "port": 0}, "port"),
        ({"to": "a@x.org", "timeout": -1}, "timeout"),
        ({"to": "a@x.org", "subject_template": "{nope}"}, "unknown field"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Email(**options)


def test_repr_never_shows_the_password() -> None:
    notify = Email(to="a@x.org", host="mail.x.org", username="u", password=PASSWORD, ssl=True)
    assert repr(notify) == (
        "Email(to=('a@x.org',), host='mail.x.org', port=465, username='u', password='***', "
        "ssl=True)"
    )
    assert PASSWORD not in repr(notify)


# Settings URLs -----------------------------------------------------------------------------

URLS: list[tuple[str, type, dict[str, Any]]] = [
    ("webhook+https://example.com/hook", Webhook, {"url": "https://example.com/hook"}),
    ("webhook+http://127.0.0.1:9000/h?x=1", Webhook, {"url": "http://127.0.0.1:9000/h?x=***"}),
    ("WEBHOOK+HTTPS://example.com/", Webhook, {"url": "https://example.com/"}),
    (
        "slack+https://hooks.slack.com/services/T1/B2/abc",
        SlackWebhook,
        {"url": "https://hooks.slack.com/services/***"},
    ),
    (
        "smtp://mail.x.org/?to=a@x.org",
        Email,
        {"host": "mail.x.org", "port": 25, "to": ("a@x.org",), "username": None},
    ),
    (
        "smtp://robot:p%40ss@mail.x.org:587/?to=a@x.org,b@x.org&starttls=1&from=ci@x.org",
        Email,
        {
            "port": 587,
            "to": ("a@x.org", "b@x.org"),
            "username": "robot",
            "_password": "p@ss",
            "starttls": True,
            "ssl": False,
            "sender": "ci@x.org",
        },
    ),
    (
        "smtps://u:pw@mail.x.org?to=a@x.org&to=b@x.org&timeout=3",
        Email,
        {"port": 465, "ssl": True, "to": ("a@x.org", "b@x.org"), "timeout": 3.0},
    ),
    (
        "smtp://mail.x.org/?to=a@x.org&subject=%7Bflow%7D+%7Boutcome%7D",
        Email,
        {"subject_template": "{flow} {outcome}"},
    ),
]


@pytest.mark.parametrize(("url", "kind", "expected"), URLS)
def test_notifier_from_url(url: str, kind: type, expected: dict[str, Any]) -> None:
    notifier = notifier_from_url(url)
    assert type(notifier) is kind
    for name, value in expected.items():
        assert getattr(notifier, name) == value, name


BAD_URLS: list[tuple[str, str]] = [
    ("https://example.com/hook", "cannot tell what notifier"),
    ("teams+https://example.com/hook", "cannot tell what notifier"),
    ("webhook+ftp://example.com/hook", "cannot tell what notifier"),
    ("slack://hooks.slack.com/x", "cannot tell what notifier"),
    ("mailto:a@x.org", "cannot tell what notifier"),
    ("", "cannot tell what notifier"),
    ("webhook+https:///nohost", "name a host"),
    ("smtp://mail.x.org/", "to=ADDRESS"),
    ("smtp://mail.x.org/inbox?to=a@x.org", "no path"),
    ("smtp://mail.x.org/?to=a@x.org&tls=1", "unknown option.*tls.*accepted: to, from"),
    ("smtp://mail.x.org/?to=a@x.org&starttls=maybe", "starttls must be"),
    ("smtp://mail.x.org/?to=a@x.org&timeout=soon", "timeout must be"),
    ("smtp://u:pw@mail.x.org:port/?to=a@x.org", "not a valid smtp:// URL"),
    ("smtps://mail.x.org/?to=a@x.org&starttls=1", "not both"),
]


@pytest.mark.parametrize(("url", "complaint"), BAD_URLS)
def test_a_bad_notifier_url_explains_the_accepted_forms(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as caught:
        notifier_from_url(url)
    assert "accepted forms:" in str(caught.value)
    assert "smtp://[USER:PASSWORD@]HOST[:PORT]/?to=ADDRESS" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://u:t0p-secret@mail.x.org/?to=a@x.org&tls=1",
        "smtp://u:t0p-secret@mail.x.org:bad/?to=a@x.org",
        "webhook+ftp://u:t0p-secret@example.com/h",
        "webhook+https://example.com/h?token=t0p-secret&x=1 2",
        "slack+https://hooks.slack.com/services/t0p-secret/B/C x",
    ],
)
def test_a_bad_url_never_echoes_its_secret(url: str) -> None:
    with pytest.raises(ValueError, match="accepted forms") as caught:
        notifier_from_url(url)
    assert "t0p-secret" not in everything_said(caught.value)


def test_notifiers_from_env_reads_a_comma_separated_list() -> None:
    env = {
        "PAUTA_NOTIFY": " slack+https://hooks.slack.com/services/T/B/C , "
        "smtp://mail.x.org/?to=a@x.org,b@x.org,webhook+https://example.com/h"
    }
    slack, mail, hook = notifiers_from_env(env)
    assert isinstance(slack, SlackWebhook)
    assert isinstance(mail, Email)
    assert mail.to == ("a@x.org", "b@x.org")
    assert isinstance(hook, Webhook)
    assert notifiers_from_env({}) == []
    assert notifiers_from_env({"PAUTA_NOTIFY": "  "}) == []


def test_notifiers_from_env_names_the_bad_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PAUTA_NOTIFY", "webhook+https://example.com/h,smtp://u:t0p-secret@mail.x.org/"
    )
    with pytest.raises(ValueError, match=r"PAUTA_NOTIFY, entry 2: .*to=ADDRESS") as caught:
        notifiers_from_env()
    assert "t0p-secret" not in str(caught.value)


def test_a_notifier_from_the_environment_delivers(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_NOTIFY", f"smtp://127.0.0.1:{mailbox.port}/?to=ml@example.com")
    for notify in notifiers_from_env():
        notify(event())
    assert mailbox.messages[0][1] == ["ml@example.com"]


def test_an_email_notifier_survives_pickling(mailbox: Mailbox) -> None:
    notify = Email(to="ml@example.com", host="127.0.0.1", port=mailbox.port, subject_template="x")
    pickle.loads(pickle.dumps(notify))(event())
    assert mailbox.messages[0][2]["Subject"] == "x"
    slack = pickle.loads(pickle.dumps(SlackWebhook("https://hooks.example.com/a/b")))
    assert slack.url == "https://hooks.example.com/a/***"
