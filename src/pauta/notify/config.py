"""Notifiers from settings: ``notifier_from_url`` and the ``PAUTA_NOTIFY`` list."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pauta.notify.email import Email
from pauta.notify.notifiers import Notifier, mask_url
from pauta.notify.slack import SlackWebhook
from pauta.notify.webhook import Webhook

ENV_VAR = "PAUTA_NOTIFY"

ACCEPTED_FORMS = """accepted forms:
  webhook+https://HOST/PATH    POST the event as JSON (webhook+http:// for plain HTTP)
  slack+https://HOST/PATH      a Slack-compatible incoming webhook (Mattermost, Rocket.Chat)
  smtp://[USER:PASSWORD@]HOST[:PORT]/?to=ADDRESS[,ADDRESS][&starttls=1][&from=ADDRESS]
  smtps://[USER:PASSWORD@]HOST[:PORT]/?to=ADDRESS    (TLS from the start, port 465)
  NAME://...                   a notifier plugin's (`pauta plugins list` shows them)"""

# Entries of PAUTA_NOTIFY are split on commas that start a new URL, so that
# ``?to=a@x,b@y`` keeps its comma-separated recipients.
_ENTRY_SPLIT = re.compile(r"\s*,\s*(?=[A-Za-z][A-Za-z0-9+.\-]*://)")


def notifier_from_url(url: str) -> Notifier:
    """The notifier a settings URL describes; a ValueError lists the accepted forms.

    ``webhook+https://...`` gives a ``Webhook``, ``slack+https://...`` a ``SlackWebhook``,
    ``smtp://...`` and ``smtps://...`` an ``Email``; any other ``NAME://...`` the notifier
    a ``pauta.notifiers`` plugin registers under ``NAME``.
    """
    if not isinstance(url, str):
        raise TypeError(f"a notifier URL is a string, not {type(url).__name__}")
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    kind, plus, transport = scheme.lower().partition("+")
    try:
        if sep and plus and kind == "webhook" and transport in ("http", "https"):
            return Webhook(f"{transport}://{rest}")
        if sep and plus and kind == "slack" and transport in ("http", "https"):
            return SlackWebhook(f"{transport}://{rest}")
        if sep and not plus and kind in ("smtp", "smtps"):
            return Email.from_url(f"{kind}://{rest}")
    except ValueError as exc:
        raise ValueError(f"{exc}\n{ACCEPTED_FORMS}") from None
    if sep and kind:
        plugin = _plugin_notifier(kind, url)
        if plugin is not None:
            return plugin
    raise ValueError(f"cannot tell what notifier {mask_url(url)!r} is\n{ACCEPTED_FORMS}")


def _plugin_notifier(kind: str, url: str) -> Notifier | None:
    """The notifier of the ``pauta.notifiers`` plugin named ``kind``, built from the whole
    URL (``cls.from_url(url)`` when the class has it, else ``cls(url)``); None when no plugin
    has that name. Plugins are read only here, when no built-in notifier matched."""
    from pauta.plugins.discovery import NOTIFIERS, find

    plugin = find(NOTIFIERS, kind)
    if plugin is None:
        return None
    if not plugin.loaded:
        raise ValueError(
            f"notifier {kind!r} comes from {plugin.distribution or plugin.value}, which failed "
            f"to load: {plugin.error}"
        )
    factory = getattr(plugin.obj, "from_url", plugin.obj)
    try:
        built = factory(url)
    except ValueError as exc:
        raise ValueError(f"notifier {kind!r}: {exc}") from None
    if not callable(built):
        raise ValueError(f"notifier {kind!r} built a {type(built).__name__}, not a callable")
    return built  # type: ignore[no-any-return]


def notifiers_from_env(environ: Mapping[str, str] | None = None) -> list[Notifier]:
    """The notifiers listed, comma-separated, in ``PAUTA_NOTIFY`` (none when unset)."""
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "")
    entries = [entry for entry in _ENTRY_SPLIT.split(raw.strip()) if entry]
    notifiers = []
    for number, entry in enumerate(entries, start=1):
        try:
            notifiers.append(notifier_from_url(entry))
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}, entry {number}: {exc}") from None
    return notifiers
