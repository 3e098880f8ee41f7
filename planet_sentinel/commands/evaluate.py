"""`sentinel evaluate`: scores of a model next to spectral baselines."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import band_order, emit, model_option, scene_output_options


@click.command()
@model_option()
@click.option("--chips-dir", type=click.Path(file_okay=False), help="Evaluate on these chips' split...")
@click.option("--split", help="Split of --chips-dir to score [default: test].")
@click.option("--before", type=click.Path(dir_okay=False), help="...or on a whole labelled scene.")
@click.option("--after", type=click.Path(dir_okay=False))
@click.option("--mask", type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--log/--no-log", "log_mlflow", default=None, help="Log the scores to the model's MLflow run [default: log]."
)
@scene_output_options
def evaluate(
    model_spec: str,
    chips_dir: str | None,
    split: str | None,
    before: str | None,
    after: str | None,
    mask: str | None,
    out_dir: str,
    log_mlflow: bool | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Precision, recall, F1, IoU and AP of the model next to spectral baselines."""
    from planet_sentinel.config import resolve
    from planet_sentinel.evaluate import EvaluateConfig, run_evaluation

    scene_args = (before, after, mask)
    if (chips_dir is not None) == any(scene_args):
        raise click.UsageError("give either --chips-dir or all of --before, --after and --mask")
    if chips_dir is None and not all(scene_args):
        raise click.UsageError("a scene evaluation needs --before, --after and --mask")
    if scene_bands and chips_dir is not None:
        raise click.UsageError("--bands states the band order of --before/--after scenes; chips name their bands")
    config = resolve(EvaluateConfig, "evaluate", {"split": split, "log": log_mlflow})
    scene = (before, after, mask) if before and after and mask else None
    done = run_evaluation(
        model_spec,
        out_dir,
        config,
        chips_dir=chips_dir,
        scene=scene,
        order=band_order(scene_bands),
        overwrite=overwrite,
    )
    click.echo(done.report.to_markdown())
    overall = done.report.overall["model"].counts
    paths = {k: str(v) for k, v in done.paths.items()}
    emit({"f1": round(overall.f1, 4), "iou": round(overall.iou, 4), **paths}, as_json)
