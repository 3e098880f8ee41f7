"""`sentinel region`: a region cut into UTM tiles for a GitHub Actions matrix, merged back, catalogued."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import SentinelGroup, emit, json_option


@click.group(cls=SentinelGroup)
def region() -> None:
    """Regions: plan tiles for a matrix of jobs, merge their alerts, catalogue them as STAC."""


@region.command(name="plan")
@click.option("--aoi", required=True, type=click.Path(dir_okay=False), help="The region: GeoJSON polygons in lon/lat.")
@click.option("--tile-km", type=float, help="Tile side in km [default: 20].")
@click.option("--margin-m", type=float, help="Context read beyond each tile edge, in metres [default: 1280].")
@click.option("--max-jobs", type=int, help="Matrix jobs at most (GitHub: 256); tiles are batched beyond it.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The plan JSON (matrix beside it).")
@click.option(
    "--github-output", type=click.Path(dir_okay=False), envvar="GITHUB_OUTPUT", help="Append matrix=... here."
)
@json_option
def region_plan(aoi: str, out: str, github_output: str | None, as_json: bool, **options: Any) -> None:
    """Cut an AOI into tiles, each in its UTM zone, and write the Actions matrix.

    Settings: flag > SENTINEL_REGION_<FIELD> > params.yaml `region:` > planet_sentinel.region.plan.PlanConfig.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.region.plan import PlanConfig, plan_region, write_plan

    config = resolve(PlanConfig, "region", options)
    emit(write_plan(plan_region(aoi, config), out, github_output), as_json)


@region.command(name="merge")
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False))
@click.option("--tiles", "tiles_dir", required=True, type=click.Path(file_okay=False), help="The tiles' outputs.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--name", default="region", show_default=True, help="Output prefix: <name>_alerts.geojson ...")
@json_option
def region_merge(plan_path: str, tiles_dir: str, out_dir: str, name: str, as_json: bool) -> None:
    """Join the tiles' alerts, dissolve those cut at tile borders, and list every tile's status."""
    from planet_sentinel.region.merge import merge_region, summary_line

    emit(summary_line(merge_region(plan_path, tiles_dir, out_dir, name)), as_json)


@region.command(name="stac")
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False))
@click.option("--tiles", "tiles_dir", required=True, type=click.Path(file_okay=False), help="The tiles' outputs.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--name", default="region", show_default=True, help="The Collection's id.")
@click.option("--observed-after", help="Start of the period (default: from the tiles' alerts).")
@click.option("--observed-before", help="End of the period (default: from the tiles' alerts).")
@json_option
def region_stac(
    plan_path: str,
    tiles_dir: str,
    out_dir: str,
    name: str,
    observed_after: str | None,
    observed_before: str | None,
    as_json: bool,
) -> None:
    """Write a STAC Collection of the region with one Item per tile, validated offline."""
    from planet_sentinel.region.stac import region_catalog

    emit(region_catalog(plan_path, tiles_dir, out_dir, name, observed_after, observed_before), as_json)


@region.command(name="period")
@click.option("--start", help="First day of the period, YYYY-MM-DD (empty with --end: the last whole month).")
@click.option("--end", help="Last day of the period, YYYY-MM-DD.")
@click.option(
    "--github-output", type=click.Path(dir_okay=False), envvar="GITHUB_OUTPUT", help="Append start=/end= here."
)
@json_option
def region_period(start: str | None, end: str | None, github_output: str | None, as_json: bool) -> None:
    """The period a region run reports (the tiles' after window and the key of the region's issue)."""
    from pathlib import Path

    from planet_sentinel.region.period import resolve_period

    first, last = resolve_period(start, end)
    if github_output:
        with Path(github_output).open("a", encoding="utf-8") as handle:
            handle.write(f"start={first}\nend={last}\n")
    emit({"start": first, "end": last}, as_json)


@region.command(name="tiles")
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False), help="`sentinel region plan`.")
@click.option("--tiles", "tile_ids", required=True, help="Tile ids of this job, space-separated (the matrix's tiles).")
@click.option("--period", nargs=2, required=True, metavar="START END", help="The after window (the period).")
@click.option("--before", nargs=2, metavar="START END", help="The before window [the period a year earlier].")
@click.option("--model", "model_spec", default="models:/planet-sentinel@champion", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="<out>/<tile>/ outputs.")
@click.option(
    "--scenes",
    "scenes_dir",
    default=".region-scenes",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the ingested scenes go (removed at the end: only the outputs travel on).",
)
@click.option("--retries", type=click.IntRange(0, 5), default=1, show_default=True, help="Tries after a failure.")
@click.option("--project", help="Earth Engine project [env SENTINEL_INGEST_PROJECT].")
@json_option
def region_tiles(
    plan_path: str,
    tile_ids: str,
    period: tuple[str, str],
    before: tuple[str, str] | None,
    model_spec: str,
    out_dir: str,
    scenes_dir: str,
    retries: int,
    project: str | None,
    as_json: bool,
) -> None:
    """Ingest (Earth Engine), predict and alert each tile of a matrix job, retrying a failed tile.

    A tile that still fails leaves <out>/<tile>/<tile>_failed.txt with the reason (the merge lists
    it as failed); the other tiles go on, and the command exits 1 when any tile failed.
    """
    from pathlib import Path

    from planet_sentinel.region.job import TileRequest, run_tiles, runs_summary

    ingest = {"project": project} if project else {}
    request = TileRequest(Path(out_dir), Path(scenes_dir), period, before or None, model_spec, retries, ingest)
    summary = runs_summary(run_tiles(plan_path, tile_ids.split(), request))
    emit(summary, as_json)
    if summary["failed"]:
        raise SystemExit(1)
