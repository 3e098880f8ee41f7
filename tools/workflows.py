"""`python -m tools workflows`: Render .github/workflows from workflows-src and check they match."""

from __future__ import annotations

import click


@click.group(name="workflows")
def workflows() -> None:
    """Render .github/workflows from workflows-src and check they match."""
