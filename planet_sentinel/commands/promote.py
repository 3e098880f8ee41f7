"""`sentinel promote`: move the MLflow `champion` alias to the challenger if it wins."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import emit, json_option


@click.command()
@click.option("--chips-dir", required=True, type=click.Path(file_okay=False), help="Evaluation chips.")
@click.option("--split", default="test", show_default=True)
@click.option("--force", is_flag=True, help="Promote even if the challenger does not win (logged).")
@click.option("--min-gain", type=float, default=0.0, show_default=True, help="F1 margin the challenger must win by.")
@click.option("--version", "version", help="Model version to promote (default: the one @challenger points at now).")
@json_option
def promote(chips_dir: str, split: str, force: bool, min_gain: float, version: str | None, as_json: bool) -> None:
    """Move the MLflow `champion` alias to the challenger if it beats the champion."""
    from planet_sentinel.registry import promote as run_promotion

    decision = run_promotion(chips_dir, split=split, force=force, min_gain=min_gain, version=version)
    emit(decision.to_dict(), as_json)
