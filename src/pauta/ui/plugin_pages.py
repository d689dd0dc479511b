"""Pages from plugins: each ``pauta.ui`` router mounted under ``/plugins/<name>/``.

Every route of a plugin's router needs a logged-in session (the UI's ``page_session``
dependency is added to the whole router, so a plugin cannot forget it); an anonymous visitor
is sent to the login form like on pauta's own pages. The menu links each mounted plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI

from pauta.plugins.discovery import UI, load_group
from pauta.ui.session import page_session


@dataclass(frozen=True, slots=True)
class PluginPage:
    """A menu entry: the plugin's name and where its pages are."""

    name: str
    href: str


def mount_plugin_pages(app: FastAPI) -> list[PluginPage]:
    """Mount every loaded ``pauta.ui`` router on ``app``; the menu entries of those mounted."""
    pages = []
    for plugin in load_group(UI):
        if not plugin.loaded:
            continue  # listed by `pauta plugins list` with its error
        prefix = f"/plugins/{plugin.name}"
        app.include_router(plugin.obj, prefix=prefix, dependencies=[Depends(page_session)])
        pages.append(PluginPage(plugin.name, f"{prefix}/"))
    return pages
