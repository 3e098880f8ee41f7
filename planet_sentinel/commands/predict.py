"""`sentinel predict`: map forest loss over a whole scene pair."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import band_order, emit, model_option, scene_output_options


@click.command()
@model_option()
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option("--name", help="Output name (default: from the before file).")
@click.option("--threshold", type=float, help="Decision threshold (default: the model's).")
@click.option("--min-area-ha", type=float, help="Minimum mapping unit [default: 0.5].")
@click.option("--window", type=int, help="Window side in pixels (default: max(chip size, 512)).")
@click.option("--overlap", type=int, help="Pixels shared by neighbouring windows [default: 64].")
@click.option("--batch-size", type=int, help="Windows per forward pass [default: 8].")
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda if available).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "onnx", "torch"]),
    help="onnx (ONNX Runtime), torch (PyTorch) or auto: torch on CUDA, else the model's ONNX graph [default: auto].",
)
@scene_output_options
def predict(
    model_spec: str,
    before: str,
    after: str,
    out_dir: str,
    name: str | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Map forest loss over a whole scene pair: probability and mask COGs, GeoJSON, quicklook.

    Settings: flag > SENTINEL_PREDICT_<FIELD> > params.yaml `predict:` > planet_sentinel.predict.PredictConfig.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.predict import SECTION, PredictConfig, predict_scene
    from planet_sentinel.predict.loading import load_predictor

    order = band_order(scene_bands)
    config = resolve(PredictConfig, SECTION, options)
    bundle = load_predictor(model_spec, config.engine, config.device)
    result = predict_scene(bundle, before, after, out_dir, name=name, config=config, overwrite=overwrite, order=order)
    emit(result.to_dict(), as_json)
