"""`sentinel demo`: the whole local pipeline on the embedded simulated scene."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--size", type=int, default=2048, show_default=True, help="Training scene side in pixels.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--held-out-size", type=int, default=1024, show_default=True, help="Side of the fresh test scenes.")
@click.option("--workdir", type=click.Path(file_okay=False), default=".", show_default=True)
def demo(size: int, seed: int, held_out_size: int, workdir: str) -> None:
    """Run the whole local pipeline on the embedded simulated scene and print where everything is."""
    import os

    from planet_sentinel.demo import DemoConfig, run_demo

    Path(workdir).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    for line in run_demo(DemoConfig(size=size, seed=seed, held_out_size=held_out_size)):
        click.echo(line)
