"""`sentinel ingest`: Earth Engine composites and Hansen labels into data/raw."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup


@click.group(name="ingest", cls=SentinelGroup)
def ingest() -> None:
    """[planned, issue #6] Earth Engine composites and Hansen labels into data/raw."""
