"""`sentinel init`: set up a checkout (DVC repository and a local DVC remote)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--remote", type=click.Path(file_okay=False), help="Directory for the local DVC remote.")
def init(remote: str | None) -> None:
    """Set up this checkout: DVC repository and a local DVC remote (no cloud account needed)."""
    from planet_sentinel.dvc import init_local_remote

    for line in init_local_remote(Path.cwd(), Path(remote) if remote else None):
        click.echo(line)
