"""Benchmarks: `python -m tools bench NAME` prints one JSON line with the figures and the ratio
to the baseline measured in the same run. They are measurements, not timed tests."""

from __future__ import annotations

import importlib

import click

BENCHMARKS = {
    "chip": "tools.bench.chip",
    "predict": "tools.bench.predict",
}


@click.command()
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)))
@click.option("--size", type=int, help="Scene side in pixels (each benchmark has its own default).")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where inputs are cached and outputs written.")
def bench(name: str, size: int | None, workdir: str | None) -> None:
    """Run benchmark NAME and print its JSON line."""
    module = importlib.import_module(BENCHMARKS[name])
    module.run(size=size, workdir=workdir)
