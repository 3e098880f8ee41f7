"""`sentinel kaggle`: Train on Kaggle GPUs: push the kernel, poll, fetch, register."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup


@click.group(name="kaggle", cls=SentinelGroup)
def kaggle() -> None:
    """[planned, issue #7] Train on Kaggle GPUs: push the kernel, poll, fetch, register."""
