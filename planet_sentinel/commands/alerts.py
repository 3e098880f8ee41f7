"""`sentinel alerts`: a prediction's loss polygons as dated, stable-id alerts (GeoJSON, FlatGeobuf, CSV)."""

from __future__ import annotations

from pathlib import Path

import click

from planet_sentinel.commands.common import emit, json_option, overwrite_option
from planet_sentinel.workspace import Workspace


def _summary_path(prediction: str, name: str | None) -> Path:
    """The ``<name>_prediction.json`` a --prediction (file, or outputs folder + --name) points to."""
    path = Path(prediction)
    if not path.is_dir():
        if name is not None:
            raise click.UsageError("--name picks a prediction in a folder; --prediction is already a file")
        return path
    if name is not None:
        return path / f"{name}_prediction.json"
    found = sorted(path.glob("*_prediction.json"))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(p.name for p in found)})"
        raise click.UsageError(f"{path} holds {what} *_prediction.json; name one with --name")
    return found[0]


@click.command()
@click.option(
    "--prediction",
    required=True,
    type=click.Path(exists=True),
    help="A `sentinel predict` summary (<name>_prediction.json), or its outputs folder (with --name).",
)
@click.option("--name", help="Which prediction of the --prediction folder (its <name>).")
@click.option("--tile-id", default=None, help="Tile of a region plan the prediction covers [default: scene].")
@click.option(
    "--store", type=click.Path(file_okay=False), help="Alert store folder: report only new alerts, confirm old."
)
@click.option("--dataset", help=f"Use the dataset's alert store ({Workspace('DATASET').alerts}) as --store.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder [default: the prediction's].")
@click.option("--observed-after", help="Date of the before composite (YYYY-MM-DD) [default: the scene's tag].")
@click.option("--observed-before", help="Date of the after composite (YYYY-MM-DD) [default: the scene's tag].")
@click.option(
    "--high-threshold",
    type=float,
    help="Max probability of a 'high' alert [default: the model's high_threshold in the summary].",
)
@click.option("--run-id", help="Run id recorded in every alert [default: the model's MLflow run].")
@overwrite_option
@json_option
def alerts(
    prediction: str,
    name: str | None,
    tile_id: str | None,
    store: str | None,
    dataset: str | None,
    out_dir: str | None,
    observed_after: str | None,
    observed_before: str | None,
    high_threshold: float | None,
    run_id: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Alerts of a prediction: id, dates, confidence, area, centroid, model; with --store, only new ones.

    Writes <name>_alerts.geojson, .fgb and .csv. With a store, each period reports only the
    alerts it has not seen before, raises earlier ones seen again to 'confirmed', and a rerun of
    a stored period changes nothing (docs/alerts.md).
    """
    from planet_sentinel.alerts.model import SCENE_TILE
    from planet_sentinel.alerts.stage import AlertsRequest, run_alerts

    if store is not None and dataset is not None:
        raise click.UsageError("give --store or --dataset, not both")
    store_dir = Path(store) if store is not None else Path(Workspace(dataset).alerts) if dataset else None
    summary = _summary_path(prediction, name)
    done = run_alerts(
        AlertsRequest(
            summary=summary,
            out_dir=Path(out_dir) if out_dir is not None else summary.parent,
            tile_id=tile_id or SCENE_TILE,
            store=store_dir,
            observed_after=observed_after,
            observed_before=observed_before,
            high_threshold=high_threshold,
            run_id=run_id,
            overwrite=overwrite,
        )
    )
    for note in done.notes:
        click.echo(note, err=True)
    emit(done.summary(), as_json)
