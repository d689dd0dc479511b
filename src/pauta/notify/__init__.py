"""Notifiers: tell people when a task or a flow succeeds, fails or retries.

Each notifier is a callable taking one ``Event``, so it can be passed straight to
``on_success``, ``on_failure`` or ``on_retry``::

    @task(on_failure=SlackWebhook("https://hooks.slack.com/services/..."))

``notifier_from_url`` builds one from a settings string, and ``notifiers_from_env`` reads the
comma-separated list in ``PAUTA_NOTIFY``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pauta.notify.notifiers import TEMPLATE_FIELDS, Event, Notifier, NotifyError, mask_url

# The notifiers pull in urllib.request, smtplib and email (about 50 ms): they load when first
# used, so that importing the engine (which builds Events) stays quick.
_LAZY = {
    "Email": "pauta.notify.email",
    "SlackWebhook": "pauta.notify.slack",
    "Webhook": "pauta.notify.webhook",
    "ACCEPTED_FORMS": "pauta.notify.config",
    "ENV_VAR": "pauta.notify.config",
    "notifier_from_url": "pauta.notify.config",
    "notifiers_from_env": "pauta.notify.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pauta.notify' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "ACCEPTED_FORMS",
    "ENV_VAR",
    "TEMPLATE_FIELDS",
    "Email",
    "Event",
    "Notifier",
    "NotifyError",
    "SlackWebhook",
    "Webhook",
    "mask_url",
    "notifier_from_url",
    "notifiers_from_env",
]
