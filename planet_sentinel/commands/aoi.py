"""`sentinel aoi`: areas of interest (GeoJSON polygons in lon/lat)."""

from __future__ import annotations

import click

from planet_sentinel.commands.common import SentinelGroup, emit, json_option


@click.group(cls=SentinelGroup)
def aoi() -> None:
    """Areas of interest (GeoJSON polygons in lon/lat)."""


@aoi.command(name="check")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def aoi_check(path: str, as_json: bool) -> None:
    """Validate an AOI and show its area, UTM zone and 10 m grid."""
    from planet_sentinel.aoi import load_aoi

    area = load_aoi(path)
    emit({"area_km2": round(area.area_km2, 3), "utm_crs": area.utm_crs, "grid": area.grid(10).describe()}, as_json)
