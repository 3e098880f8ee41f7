"""Benchmarks: `python -m tools bench NAME` prints one JSON line with the figures and the ratio
to the baseline measured in the same run. They are measurements, not timed tests."""

from __future__ import annotations

import importlib
import inspect

import click

BENCHMARKS = {
    "chip": "tools.bench.chip",
    "drift": "tools.bench.drift",
    "ingest": "tools.bench.ingest",
    "oscd": "tools.bench.oscd",
    "predict": "tools.bench.predict",
    "realism": "tools.bench.realism",
    "region": "tools.bench.region",
    "serve": "tools.bench.serve",
}


@click.command()
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)))
@click.option("--size", type=int, help="Scene side in pixels (each benchmark has its own default).")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where inputs are cached and outputs written.")
@click.option(
    "--data", type=click.Path(file_okay=False), help="Input data folder, for benchmarks on real data (oscd, realism)."
)
@click.option(
    "--test-data",
    type=click.Path(file_okay=False),
    help="A second data folder scored by a model that never saw it (oscd).",
)
def bench(name: str, size: int | None, workdir: str | None, data: str | None, test_data: str | None) -> None:
    """Run benchmark NAME and print its JSON line."""
    module = importlib.import_module(BENCHMARKS[name])
    options = {"data": data, "test_data": test_data}
    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(module.run).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unused = [k for k in given if k not in params and not takes_any]
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise click.UsageError(f"benchmark {name} does not use {flags}")
    module.run(size=size, workdir=workdir, **given)
