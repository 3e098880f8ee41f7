"""`sentinel evaluate`: scores of a model next to spectral baselines."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import band_order, emit, json_option, overwrite_option, scene_bands_option


@click.command()
@click.option(
    "--model",
    "model_spec",
    default="models:/planet-sentinel@champion",
    show_default=True,
    help="MLflow model URI or a local bundle file.",
)
@click.option("--chips-dir", type=click.Path(file_okay=False), help="Evaluate on these chips' split...")
@click.option("--split", default="test", show_default=True)
@click.option("--before", type=click.Path(dir_okay=False), help="...or on a whole labelled scene.")
@click.option("--after", type=click.Path(dir_okay=False))
@click.option("--mask", type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--log/--no-log", "log_mlflow", default=True, show_default=True, help="Log the scores to the model's MLflow run."
)
@scene_bands_option
@overwrite_option
@json_option
def evaluate(
    model_spec: str,
    chips_dir: str | None,
    split: str,
    before: str | None,
    after: str | None,
    mask: str | None,
    out_dir: str,
    log_mlflow: bool,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Precision, recall, F1, IoU and AP of the model next to spectral baselines."""
    from planet_sentinel.evaluate import evaluate_chips, evaluate_scene
    from planet_sentinel.registry import load_model, log_evaluation

    scene_args = (before, after, mask)
    if (chips_dir is not None) == any(scene_args):
        raise click.UsageError("give either --chips-dir or all of --before, --after and --mask")
    if chips_dir is None and not all(scene_args):
        raise click.UsageError("a scene evaluation needs --before, --after and --mask")
    if scene_bands and chips_dir is not None:
        raise click.UsageError("--bands states the band order of --before/--after scenes; chips name their bands")
    order = band_order(scene_bands)
    bundle = load_model(model_spec)
    if chips_dir is not None:
        report = evaluate_chips(bundle, chips_dir, split)
    else:
        report = evaluate_scene(bundle, before, after, mask, order=order)  # type: ignore[arg-type]
    paths = report.write(out_dir, overwrite=overwrite)
    if log_mlflow:
        log_evaluation(bundle, report, paths)
    click.echo(report.to_markdown())
    overall = report.overall["model"].counts
    emit({"f1": round(overall.f1, 4), "iou": round(overall.iou, 4), **{k: str(v) for k, v in paths.items()}}, as_json)
