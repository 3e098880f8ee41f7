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
