"""`sentinel ingest`: Earth Engine composites and Hansen labels into data/raw."""

from __future__ import annotations

import json
from typing import Any

import click

from planet_sentinel.commands.common import SentinelGroup, emit, output_options


@click.group(name="ingest", cls=SentinelGroup)
def ingest() -> None:
    """Earth Engine composites and Hansen labels into data/raw."""


@ingest.command(name="gee")
@click.option("--project", help="Google Cloud project registered for Earth Engine [env SENTINEL_INGEST_PROJECT].")
@click.option("--aoi", type=click.Path(dir_okay=False), help="AOI GeoJSON (Polygon/MultiPolygon, EPSG:4326).")
@click.option(
    "--before",
    nargs=2,
    metavar="START END",
    help="Before window, inclusive dates (YYYY-MM-DD) [the after window a year earlier].",
)
@click.option(
    "--after",
    nargs=2,
    metavar="START END",
    help="After window, later than the before window [60 days ago to today, UTC].",
)
@click.option("--name", help="Scene name: <out-dir>/<name>_{before,after,mask}.tif and <name>_ingest.json.")
@click.option("--bands", multiple=True, help="Sentinel-2 bands, repeated or comma-separated [default B02..B12 (6)].")
@click.option("--cloud-threshold", type=float, help="Cloud Score+ cs_cdf at or above which a pixel is clear [0.6].")
@click.option("--cloud-mask", type=click.Choice(["cloudscore", "scl"]), help="Cloud Score+ (SCL fallback) or SCL.")
@click.option("--scale", type=int, help="Pixel size in metres [10].")
@click.option("--crs", help="Output grid CRS, EPSG:NNNNN [the UTM zone of the AOI's centroid].")
@click.option("--label", type=click.Choice(["hansen", "none"]), help="Hansen GFC loss as the mask, or none.")
@click.option("--treecover-threshold", type=int, help="Tree cover 2000 (%) for Hansen loss to count [30].")
@click.option("--export", help="Batch export: gcs:BUCKET/PREFIX (downloaded when done) or drive:FOLDER.")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Output folder [data/raw].")
@click.option("--tile-px", type=int, help="Tile side of direct downloads [512; must fit the 48 MiB request limit].")
@click.option("--workers", type=int, help="computePixels requests in flight [4].")
@click.option("--retries", type=int, help="Retries per tile on HTTP 429/5xx [5].")
@click.option("--dry-run", is_flag=True, help="Print the plan and the serialised ee graph; no network, no credentials.")
@output_options
def gee(dry_run: bool, overwrite: bool, as_json: bool, bands: tuple[str, ...], **options: Any) -> None:
    """Sentinel-2 composites (Cloud Score+ masked medians) and a Hansen loss mask for an AOI.

    Direct download with computePixels for small and medium AOIs (tiled, parallel, retried,
    resumable); batch exports with --export for large ones. Credentials: the service-account key
    in EARTHENGINE_SERVICE_ACCOUNT_KEY, else `earthengine authenticate`; EARTHENGINE_API_URL
    points the client at another endpoint (the local emulator).
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.sources.gee import IngestConfig
    from planet_sentinel.sources.gee import dry_run as plan_only
    from planet_sentinel.sources.gee import ingest as run_ingest

    if bands:
        options["bands"] = [b for item in bands for b in item.replace(",", " ").split()]
    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v not in (None, ())}
    cfg = resolve(IngestConfig, "ingest", options)
    # The dates used, given or defaulted (IngestConfig: the last 60 days and the same dates a year earlier).
    windows = {
        role: [day.isoformat() for day in window] for role, window in (("before", cfg.before), ("after", cfg.after))
    }
    if dry_run:
        planned = {**plan_only(cfg), "windows": windows}
        if as_json:
            click.echo(json.dumps(planned, default=str))
            return
        plan = planned["plan"]
        click.echo(f"dry run: no request sent (route {plan['route']}: {plan['reason']})")
        click.echo(f"windows: before {' to '.join(windows['before'])}, after {' to '.join(windows['after'])}")
        for key in ("grid", "area_km2", "bands", "outputs", "tile_px", "tiles_per_output", "requests", "bytes"):
            click.echo(f"{key}: {plan[key]}")
        for warning in plan["warnings"]:
            click.echo(f"warning: {warning}")
        click.echo(f"graph_hash: {planned['graph_hash']}")
        click.echo("graph (Earth Engine Cloud API expressions, as sent in each request):")
        click.echo(json.dumps(planned["graph"], indent=1))
        return
    summary = run_ingest(cfg, overwrite=overwrite)
    result: dict[str, Any] = {
        "name": cfg.name,
        "route": summary.plan["route"],
        "windows": windows,
        "outputs": summary.outputs,
        "summary": f"{cfg.out_dir}/{cfg.name}_ingest.json",
        "images": {role: w.images for role, w in summary.windows.items()},
        "graph_hash": summary.graph_hash,
        "seconds": summary.seconds,
    }
    if summary.download is not None:
        result["requests"] = summary.download["requests"]
        result["bytes"] = summary.download["bytes"]
        result["tiles_reused"] = summary.download["tiles_reused"]
    if summary.export is not None:
        result["tasks"] = summary.export["tasks"]
    if summary.next_steps:
        result["next_steps"] = summary.next_steps
    if summary.warnings:
        result["warnings"] = summary.warnings
    if as_json:
        click.echo(json.dumps(result, default=str))
        return
    steps = result.pop("next_steps", None)
    emit(result, False)
    for line in steps or []:
        click.echo(line)
