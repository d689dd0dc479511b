"""`pauta run`: run a flow once."""

from __future__ import annotations

import click

from pauta.cli.common import (
    build_capacity,
    capacity_options,
    executor_options,
    executor_settings,
    params_options,
    parse_params,
    user_errors,
)
from pauta.cli.driving import (
    drive_with_progress,
    first_local_worker,
    ready,
    start_cluster,
    start_local_pool,
)
from pauta.cli.prestart import NOT_LOCAL


@click.command()
@click.argument("target", metavar="FILE[:FLOW]")
@params_options
@executor_options
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
    ray_address: str | None,
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
    settings = executor_settings(executor, ray_address)
    # The first worker started before anything else (or reach the cluster soon): it boots
    # while this process imports the executor, the store and the engine and loads the flow,
    # which roughly halves a short run's time.
    local = executor not in NOT_LOCAL
    first = first_local_worker(settings, local)
    from pauta.dispatch.capacity import detect_capacity

    from_file, strings = parse_params(params, params_file)
    capacity = build_capacity(cpus, memory, gpus, resources) or detect_capacity()
    started = {}
    if executor == "ray":
        started["ray"] = start_cluster(settings, capacity, "ray")
    elif local:
        started["local"] = start_local_pool(settings, capacity, workers, first)

    from pauta.app.flows import resolve_flow
    from pauta.app.params import check_params_size
    from pauta.engine.runner import Runner

    with user_errors():
        flow = resolve_flow(target)
        values = flow.parameters.validate_input(from_file, strings)
        check_params_size(flow.name, flow.parameters.to_json(values), settings.max_params_bytes)
    ready(started)
    runner = Runner(
        settings,
        capacity=capacity,
        workers=workers,
        default_executor=executor,
        started=started,
        no_cache=no_cache,
        light_store=True,
    )
    try:
        drive_with_progress(
            lambda on_start: runner.run(flow, values, on_start=on_start),
            as_json=as_json,
            quiet=quiet,
        )
    finally:
        runner.close()
