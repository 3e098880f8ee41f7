"""`sentinel serve`: The FastAPI prediction service."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup


@click.group(name="serve", cls=SentinelGroup)
def serve() -> None:
    """[planned, issue #5] The FastAPI prediction service."""
