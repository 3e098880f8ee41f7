"""`sentinel deploy`: Roll out the champion container with health check and roll-back."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup


@click.group(name="deploy", cls=SentinelGroup)
def deploy() -> None:
    """[planned, issue #5] Roll out the champion container with health check and roll-back."""
