"""`python -m tools kaggle`: Kaggle emulator: serve it for debugging by hand."""

from __future__ import annotations

import click


@click.group(name="kaggle")
def kaggle() -> None:
    """Kaggle emulator: serve it for debugging by hand."""
