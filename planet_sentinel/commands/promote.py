"""`sentinel promote`: move the MLflow `champion` alias to the challenger if it wins."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option


@click.command()
@click.option("--chips-dir", required=True, type=click.Path(file_okay=False), help="Evaluation chips.")
@click.option("--split", help="Split both versions are scored on [default: test].")
@click.option("--force", is_flag=True, default=None, help="Promote even if the challenger does not win (logged).")
@click.option("--min-gain", type=float, help="F1 margin the challenger must win by [default: 0.0].")
@click.option("--version", "version", help="Model version to promote (default: the one @challenger points at now).")
@json_option
def promote(chips_dir: str, as_json: bool, **options: Any) -> None:
    """Move the MLflow `champion` alias to the challenger if it beats the champion."""
    from planet_sentinel.config import resolve
    from planet_sentinel.promote import PromoteConfig
    from planet_sentinel.promote import promote as run_promotion

    decision = run_promotion(chips_dir, resolve(PromoteConfig, "promote", options))
    emit(decision.to_dict(), as_json)
