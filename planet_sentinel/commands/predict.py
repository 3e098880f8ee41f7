"""`sentinel predict`: map forest loss over a whole scene pair."""

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
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@click.option("--name", help="Output name (default: from the before file).")
@click.option("--threshold", type=float, help="Decision threshold (default: the model's).")
@click.option("--min-area-ha", type=float, default=0.5, show_default=True, help="Minimum mapping unit.")
@click.option("--window", type=int, help="Window side in pixels (default: max(chip size, 512)).")
@click.option("--overlap", type=int, default=64, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda if available).")
@scene_bands_option
@overwrite_option
@json_option
def predict(
    model_spec: str,
    before: str,
    after: str,
    out_dir: str,
    name: str | None,
    threshold: float | None,
    min_area_ha: float,
    window: int | None,
    overlap: int,
    batch_size: int,
    device: str | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Map forest loss over a whole scene pair: probability and mask COGs, GeoJSON, quicklook."""
    from planet_sentinel.predict import predict_scene
    from planet_sentinel.registry import load_model

    order = band_order(scene_bands)
    bundle = load_model(model_spec)
    result = predict_scene(
        bundle,
        before,
        after,
        out_dir,
        name=name,
        window=window,
        overlap=overlap,
        batch_size=batch_size,
        threshold=threshold,
        min_area_ha=min_area_ha,
        overwrite=overwrite,
        device=device,
        order=order,
    )
    emit(result.to_dict(), as_json)
