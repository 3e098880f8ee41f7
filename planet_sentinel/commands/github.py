"""`sentinel github`: GitHub: drift issues, retrain approvals, workflow dispatches."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup


@click.group(name="github", cls=SentinelGroup)
def github() -> None:
    """[planned, issue #8] GitHub: drift issues, retrain approvals, workflow dispatches."""
