"""`python -m tools ee`: Earth Engine emulator: serve it, run an emulated ingest."""

from __future__ import annotations

import click


@click.group(name="ee")
def ee() -> None:
    """Earth Engine emulator: serve it, run an emulated ingest."""
