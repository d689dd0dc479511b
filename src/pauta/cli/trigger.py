"""`pauta trigger`: queue a run of a flow for a worker to claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pauta.cli.common import fail, open_store, params_options, parse_params, print_json, user_errors


def _flow_for(target: str, flows_dir: str | None) -> Any:
    """A flow from ``FILE[:FLOW]``, or by name from the flows folder."""
    from pauta.app.flows import resolve_flow, split_target

    path, _ = split_target(target)
    if path.endswith(".py") or Path(path).is_file():
        return resolve_flow(target)
    from pauta.scheduling.discovery import discover, flows_folder

    found = discover(Path(flows_dir) if flows_dir else flows_folder())
    info = found.flows.get(target)
    if info is None:
        known = ", ".join(found.flows) or "none"
        fail(
            f"no flow named {target!r} in {found.folder} (flows there: {known}); "
            "see `pauta flows list`"
        )
    return resolve_flow(f"{info.file}:{info.name}")


@click.command()
@click.argument("target", metavar="FLOW | FILE[:FLOW]")
@params_options
@click.option(
    "--flows", "flows_dir", type=click.Path(file_okay=False), help="Where to find FLOW by name."
)
@click.option("--json", "as_json", is_flag=True, help="Print the queued run as JSON.")
def trigger(
    target: str,
    params: tuple[str, ...],
    params_file: str | None,
    flows_dir: str | None,
    as_json: bool,
) -> None:
    """Queue a run of a flow for a worker (`pauta worker` or `pauta server`) to run."""
    from pauta.app.runs import run_view
    from pauta.app.triggering import queue_run, validate_params
    from pauta.core.settings import Settings

    from_file, strings = parse_params(params, params_file)
    with user_errors():
        flow = _flow_for(target, flows_dir)
        values = validate_params(flow, from_file, strings)
        limit = Settings.from_env().max_params_bytes
        record = queue_run(open_store(), flow, values, trigger="manual", max_params_bytes=limit)
    if as_json:
        print_json(run_view(record))
    else:
        click.echo(record.id)
