"""`sentinel plots check`: supplier plots against a prediction since the EUDR cutoff."""

from __future__ import annotations

from pathlib import Path

import click

from planet_sentinel.commands.common import SentinelGroup, emit, json_option, overwrite_option


@click.group(cls=SentinelGroup)
def plots() -> None:
    """Supplier plots (EUDR due diligence)."""


@plots.command(name="check")
@click.option("--plots", "plots_path", required=True, type=click.Path(dir_okay=False), help="Plots GeoJSON (WGS 84).")
@click.option(
    "--prediction", required=True, type=click.Path(dir_okay=False), help="The `sentinel predict` summary JSON."
)
@click.option("--cutoff", help="Loss after this date counts [default: 2020-12-31].")
@click.option("--alerts", "alerts_path", type=click.Path(dir_okay=False), help="Alerts GeoJSON or alert store file.")
@click.option("--max-unknown", type=float, help="Unknown share above which a plot is 'unknown: clouds' [default: 0.1].")
@click.option("--min-loss-ha", type=float, help="Loss a plot must exceed to be 'loss detected' [default: 0].")
@click.option("--observed-after", help="Date of the before scene (YYYY-MM-DD) [default: its tag].")
@click.option("--observed-before", help="Date of the after scene (YYYY-MM-DD) [default: its tag].")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@overwrite_option
@json_option
def plots_check(
    plots_path: str,
    prediction: str,
    cutoff: str | None,
    alerts_path: str | None,
    max_unknown: float | None,
    min_loss_ha: float | None,
    observed_after: str | None,
    observed_before: str | None,
    out_dir: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Per plot: loss since the cutoff (ha, share), alert ids inside, verdict; <plots>_check.csv and .geojson.

    Plots are Polygons/MultiPolygons, or Points with their area in hectares (property Area,
    area_ha or area) checked as a circle of that area. Ids come from plot_id, id or
    ProductionPlace (else the feature's id, else its place in the file). A bad plot (invalid or
    self-intersecting polygon, point without area, outside the scene, duplicate id) is reported
    by name and the others are still checked: the exit status is 1 only when no plot could be.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.plots import PlotsCheckConfig, PlotsRequest, run_plots_check

    config = resolve(
        PlotsCheckConfig, "plots", {"cutoff": cutoff, "max_unknown_share": max_unknown, "min_loss_ha": min_loss_ha}
    )
    report = run_plots_check(
        PlotsRequest(
            plots=Path(plots_path),
            summary=Path(prediction),
            out_dir=Path(out_dir),
            config=config,
            alerts=Path(alerts_path) if alerts_path else None,
            observed_after=observed_after,
            observed_before=observed_before,
            overwrite=overwrite,
        )
    )
    for error in report.errors:
        click.echo(error.message, err=True)
    emit(report.summary(), as_json)
