"""`python -m tools act` / `run-action`: run workflows and single actions on the host with nektos act."""

from __future__ import annotations

import click


@click.command(name="act")
def act() -> None:
    """[planned, issue #8] Run a workflow locally with act."""
    raise click.ClickException("not available yet (issue #8)")


@click.command(name="run-action")
def run_action() -> None:
    """[planned, issue #8] Run one composite action locally."""
    raise click.ClickException("not available yet (issue #8)")
