"""`pauta plugins list`: what packages add to pauta, and what failed to load and why."""

from __future__ import annotations

import click

from pauta.cli.common import print_json


@click.group()
def plugins() -> None:
    """Plugins: packages adding executors, notifiers, serializers, connection types, pages."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_list(as_json: bool) -> None:
    """Each plugin's group, name, package and version, and whether it loaded (or why not)."""
    from pauta.plugins.catalog import all_plugins

    found = all_plugins()
    if as_json:
        print_json([plugin.to_dict() for plugin in found])
        return
    if not found:
        click.echo(
            "no plugins installed (entry point groups: "
            "pauta.executors, pauta.notifiers, pauta.serializers, pauta.connection_types, "
            "pauta.ui)"
        )
        return
    rows = [
        [
            plugin.group,
            plugin.name,
            f"{plugin.distribution or '?'} {plugin.version or ''}".strip(),
            "loaded" if plugin.loaded else f"failed: {plugin.error}",
        ]
        for plugin in found
    ]
    rows.insert(0, ["GROUP", "NAME", "PACKAGE", "STATUS"])
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]))
