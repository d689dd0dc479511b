"""`pauta run`: run a flow once."""

from __future__ import annotations

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    params_options,
    parse_params,
    user_errors,
)
from pauta.cli.driving import drive_with_progress, start_local_pool


@click.command()
@click.argument("target", metavar="FILE[:FLOW]")
@params_options
@click.option(
    "--executor",
    metavar="NAME",
    help="Where tasks run by default: local (warm processes), inline, or a plugin's executor.",
)
@click.option(
    "--workers", type=int, help="Warm worker processes (default: one per cpu of capacity)."
)
@click.option("--no-cache", is_flag=True, help="Run every task, even if a cached result exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON only.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary; only the exit code.")
@capacity_options
def run(
    target: str,
    params: tuple[str, ...],
    params_file: str | None,
    executor: str | None,
    workers: int | None,
    no_cache: bool,
    as_json: bool,
    quiet: bool,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    resources: tuple[str, ...],
) -> None:
    """Run a flow once, showing live progress; the exit code is the outcome (0 succeeded)."""
    from pauta.core.settings import Settings
    from pauta.dispatch.capacity import detect_capacity

    if executor is not None:
        from pauta.executors.registry import default_registry

        with user_errors():
            default_registry().spec(executor)
    from_file, strings = parse_params(params, params_file)
    capacity = build_capacity(cpus, memory, gpus, resources) or detect_capacity()
    settings = Settings.from_env()
    # Warm the worker pool first: the processes start while this one imports the store and
    # validates parameters, which roughly halves the wall time of a short run.
    started = (
        {} if executor == "inline" else {"local": start_local_pool(settings, capacity, workers)}
    )

    from pauta.app.flows import resolve_flow
    from pauta.app.params import check_params_size
    from pauta.engine.runner import Runner

    with user_errors():
        flow = resolve_flow(target)
        values = flow.parameters.validate_input(from_file, strings)
        check_params_size(flow.name, flow.parameters.to_json(values), settings.max_params_bytes)
    runner = Runner(
        settings,
        capacity=capacity,
        workers=workers,
        default_executor=executor,
        started=started,
        no_cache=no_cache,
    )
    try:
        drive_with_progress(
            lambda on_start: runner.run(flow, values, on_start=on_start),
            as_json=as_json,
            quiet=quiet,
        )
    finally:
        runner.close()
