"""`sentinel simulate`: a realistic simulated Sentinel-2 L2A scene pair with its loss mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import RAW_DIR, emit, output_options


@click.command()
@click.option("--name", help="Scene name; files are <out-dir>/<name>_{before,after,mask}.tif.")
@click.option("--size", type=int, help="Scene side in pixels (10 m each).")
@click.option("--seed", type=int, help="Random seed; the same seed gives the same scene.")
@click.option("--difficulty", type=float, help="0..1: raises clouds, haze, misregistration, noise.")
@click.option("--cloud-cover", type=float, help="Cloud share of the scene (overrides difficulty).")
@click.option("--haze", type=float, help="Haze strength 0..1 (overrides difficulty).")
@click.option("--misregistration", "misregistration_px", type=float, help="After-date shift in pixels.")
@click.option("--noise", type=float, help="Sensor noise std in reflectance x10000 units.")
@click.option("--gain", type=float, help="Drift knob: reflectance gain on the after date.")
@click.option("--season-shift", type=float, help="Drift knob: extra seasonal shift between dates.")
@click.option("--forest-fraction", type=float, help="Drift knob: forest share of the land cover.")
@click.option("--aoi", type=click.Path(dir_okay=False), help="Place the scene at this AOI's centre.")
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@output_options
def simulate(out_dir: str, overwrite: bool, as_json: bool, aoi: str | None, **options: Any) -> None:
    """Write a realistic simulated Sentinel-2 L2A scene pair with its loss mask."""
    from planet_sentinel.config import resolve
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    if aoi is not None:
        from planet_sentinel.aoi import load_aoi

        centre = load_aoi(aoi).geometry.centroid
        options.update(centre_lon=centre.x, centre_lat=centre.y)
    config = resolve(SimulationConfig, "simulate", options)
    scene = simulate_scene(config, Path(out_dir), overwrite=overwrite)
    emit(
        {
            "before": scene.before,
            "after": scene.after,
            "mask": scene.mask,
            "quicklook": scene.quicklook,
            "loss_share": round(scene.stats.get("loss_share", float("nan")), 4),
            "unknown_share": round(scene.stats.get("unknown_share", float("nan")), 4),
        },
        as_json,
    )
