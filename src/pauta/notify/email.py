"""``Email``: a plain-text message over SMTP (``smtplib``), with the error and its traceback."""

from __future__ import annotations

import smtplib
import ssl as tls
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from pauta.core.clock import utcnow
from pauta.core.host import hostname
from pauta.notify.notifiers import (
    Event,
    NotifyError,
    Template,
    check_event,
    check_template,
    check_timeout,
    mask_url,
    render,
)

DEFAULT_SUBJECT = "[pauta] {title} (run {run_id})"
_URL_OPTIONS = ("to", "from", "starttls", "timeout", "subject")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Email:
    """Send each ``Event`` as a plain-text email to ``to`` (one address or several).

    ``port`` defaults to 465 with ``ssl=True`` (TLS from the start) and to 25 otherwise; use
    ``starttls=True`` (usually port 587) to upgrade a plain connection before logging in.
    ``username``/``password`` log in with SMTP AUTH; without TLS the password travels in clear.
    ``subject_template`` is a ``str.format`` string over ``pauta.notify.TEMPLATE_FIELDS`` or a
    function of the ``Event``; the default gives ``[pauta] weekly_training failed (run ID)``.
    """

    __slots__ = (
        "_password",
        "host",
        "port",
        "sender",
        "ssl",
        "starttls",
        "subject_template",
        "timeout",
        "to",
        "username",
    )

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        sender: str | None = None,
        host: str = "localhost",
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
        subject_template: Template | None = None,
    ) -> None:
        self.to = _addresses(to)
        self.sender = sender or f"pauta@{hostname()}"
        if "@" not in parseaddr(self.sender)[1]:
            raise ValueError(f"Email: sender {self.sender!r} is not an email address")
        if not host or not isinstance(host, str):
            raise ValueError("Email: host must name the SMTP server")
        if starttls and ssl:
            raise ValueError(
                "Email: choose starttls=True (upgrade a plain connection, port 587) or "
                "ssl=True (TLS from the start, port 465), not both"
            )
        if (username is None) != (password is None):
            raise ValueError("Email: give both username and password to log in, or neither")
        port = (465 if ssl else 25) if port is None else port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"Email: port must be a number from 1 to 65535, not {port!r}")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = bool(starttls)
        self.ssl = bool(ssl)
        self.timeout = check_timeout(timeout, "Email")
        self.subject_template = check_template(subject_template, "Email subject_template")

    @classmethod
    def from_url(cls, url: str) -> Email:
        """An ``Email`` from ``smtp://[USER:PASSWORD@]HOST[:PORT]/?to=ADDR[,ADDR]&starttls=1``.

        ``smtps://`` means TLS from the start. Query options: ``to`` (required, repeatable or
        comma-separated), ``from``, ``starttls``, ``timeout``, ``subject`` (a subject template).
        User and password are percent-decoded.
        """
        shown = mask_url(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"{shown} is not a valid smtp:// URL") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{shown}: an email URL is smtp://HOST or smtps://HOST")
        if parts.path not in ("", "/"):
            raise ValueError(f"{shown}: an smtp URL has no path; put options after '/?'")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - set(_URL_OPTIONS))
        if unknown:
            raise ValueError(
                f"{shown}: unknown option(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(_URL_OPTIONS)}"
            )
        to = [address for value in query.get("to", []) for address in value.split(",")]
        if not any(address.strip() for address in to):
            raise ValueError(f"{shown}: say who gets the mail with ?to=ADDRESS")
        try:
            timeout = float(_last(query, "timeout") or 10.0)
        except ValueError:
            raise ValueError(f"{shown}: timeout must be a number of seconds") from None
        username = None if parts.username is None else unquote(parts.username)
        password = None if parts.password is None else unquote(parts.password)
        if username is not None and password is None:
            password = ""
        return cls(
            to=to,
            sender=_last(query, "from"),
            host=parts.hostname,
            port=port,
            username=username,
            password=password,
            starttls=_flag(_last(query, "starttls"), "starttls", shown),
            ssl=parts.scheme == "smtps",
            timeout=timeout,
            subject_template=_last(query, "subject"),
        )

    @property
    def server(self) -> str:
        """Where mail goes, as ``smtp://HOST:PORT`` (no credentials)."""
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port}"

    def message(self, event: Event) -> EmailMessage:
        """The message sent for ``event`` (to preview or test a template)."""
        check_event(event, "Email")
        subject = render(self.subject_template or DEFAULT_SUBJECT, event)
        message = EmailMessage()
        message["Subject"] = " ".join(subject.split())
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        # the moment the event happened, so a message previewed later says the same
        message["Date"] = format_datetime(event.ended_at or event.started_at or utcnow())
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
        message["X-Pauta-Run"] = event.run_id
        message.set_content(body(event))
        return message

    def __call__(self, event: Event, /) -> None:
        """Send ``event``; ``NotifyError`` when the server did not take it for every recipient."""
        message = self.message(event)
        envelope_to = [parseaddr(address)[1] for address in self.to]
        where = f"Email: sending to {', '.join(envelope_to)} through {self.server}"
        try:
            refused = self._send(message, envelope_to)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(
                f"{where}: the server refused the login of {self.username!r} "
                f"({exc.smtp_code} {_text(exc.smtp_error)}); check username and password",
                target=self.server,
                status=exc.smtp_code,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except smtplib.SMTPResponseException as exc:
            raise NotifyError(
                f"{where}: the server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                target=self.server,
                status=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            text = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) else exc
            raise NotifyError(f"{where} failed: {text}", target=self.server) from exc
        if refused:
            shown = "; ".join(
                f"{address} ({code} {_text(reply)})" for address, (code, reply) in refused.items()
            )
            raise NotifyError(
                f"{where}: the server refused {shown}",
                target=self.server,
                status=next(iter(refused.values()))[0],
            )

    def _send(self, message: EmailMessage, envelope_to: list[str]) -> dict[str, tuple[int, bytes]]:
        context = tls.create_default_context()
        client: smtplib.SMTP
        if self.ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.starttls:
                client.starttls(context=context)
            if self.username is not None:
                client.login(self.username, self._password or "")
            return client.send_message(
                message, from_addr=parseaddr(self.sender)[1], to_addrs=envelope_to
            )

    def __repr__(self) -> str:
        login = f", username={self.username!r}, password='***'" if self.username else ""
        tls_mode = ", ssl=True" if self.ssl else ", starttls=True" if self.starttls else ""
        return f"Email(to={self.to!r}, host={self.host!r}, port={self.port}{login}{tls_mode})"


def body(event: Event) -> str:
    """The plain-text body: the summary, the facts, then the error and its traceback."""
    facts = [("Flow", event.flow), ("Run", event.run_id)]
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
    if event.started_at:
        facts.append(("Started at", event.started_at.isoformat()))
    if event.ended_at:
        facts.append(("Ended at", event.ended_at.isoformat()))
    if event.url:
        facts.append(("Run page", event.url))
    lines = [event.summary(icon=False), ""]
    lines += [f"{label + ':':<14}{value}" for label, value in facts]
    if event.error:
        lines += ["", f"Error: {event.error_type}: {event.error_message}"]
    if event.traceback:
        lines += ["", event.traceback.rstrip()]
    lines += ["", f"See it with: pauta runs show {event.run_id}"]
    return "\n".join(lines) + "\n"


def _addresses(to: str | Sequence[str]) -> tuple[str, ...]:
    items = to.split(",") if isinstance(to, str) else list(to)
    if not all(isinstance(item, str) for item in items):
        raise TypeError("Email: to must be an address or a list of addresses (strings)")
    addresses = tuple(item.strip() for item in items if item.strip())
    if not addresses:
        raise ValueError("Email: to must name at least one address")
    for address in addresses:
        if "@" not in parseaddr(address)[1] or "\n" in address or "\r" in address:
            raise ValueError(f"Email: {address!r} is not an email address")
    return addresses


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _flag(value: str | None, name: str, shown: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{shown}: {name} must be 1/0, true/false, yes/no or on/off")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
