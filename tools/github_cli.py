"""`python -m tools github`: GitHub REST emulator: serve it, inspect what it received."""

from __future__ import annotations

import click


@click.group(name="github")
def github() -> None:
    """GitHub REST emulator: serve it, inspect what it received."""
