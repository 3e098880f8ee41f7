"""Generated regions for the region tests: AOIs, plans and tile alert files, all made here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planet_sentinel.alerts.ids import feature_id
from planet_sentinel.alerts.model import AlertCollection, AlertFeature, AlertGeometry, AlertProperties
from planet_sentinel.region.geometry import reproject
from planet_sentinel.region.plan import PlanConfig, RegionPlan, plan_region

PERIOD = ("2024-01-10", "2024-02-09")


def write_aoi(path: Path, west: float, south: float, east: float, north: float) -> Path:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    path.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}})
    )
    return path


def alert(
    geometry_utm: Any, crs: str, tile: str, area_ha: float | None = None, probability: float = 0.8
) -> AlertFeature:
    """An alert of a polygon given in ``crs`` (metres), as a tile would write it."""
    from shapely.geometry import mapping
    from shapely.geometry.polygon import orient

    lonlat = orient(reproject(geometry_utm, crs, "EPSG:4326"), sign=1.0)
    geometry = {
        "type": "Polygon",
        "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring] for ring in mapping(lonlat)["coordinates"]],
    }
    alert_id = feature_id(geometry, *PERIOD)
    lon, lat = lonlat.centroid.x, lonlat.centroid.y
    properties = AlertProperties(
        id=alert_id,
        observed_after=PERIOD[0],
        observed_before=PERIOD[1],
        confidence="high" if probability >= 0.9 else "nominal",
        status="new",
        area_ha=round(geometry_utm.area / 10_000, 4) if area_ha is None else area_ha,
        lon=lon,
        lat=lat,
        tile_id=tile,
        model_name="planet-sentinel",
        model_version="3",
        run_id="run-1",
        max_probability=probability,
    )
    return AlertFeature(id=alert_id, geometry=AlertGeometry.model_validate(geometry), properties=properties)


def write_alerts(tiles_dir: Path, tile: str, alerts: list[AlertFeature]) -> Path:
    path = tiles_dir / tile / f"{tile}_alerts.geojson"
    AlertCollection(schema_version=1, name=tile, features=alerts).save(path)
    return path


@pytest.fixture
def two_tile_plan(tmp_path: Path) -> tuple[RegionPlan, Path]:
    """A plan of 1 km tiles over a small AOI in Rondonia (zone 20 S): two tiles side by side."""
    from rasterio.warp import transform

    # a point well inside one cell row; the AOI spans the border between two columns
    xs, ys = transform("EPSG:32720", "EPSG:4326", [500_500.0, 501_500.0], [8_900_300.0, 8_900_700.0])
    aoi = write_aoi(tmp_path / "aoi.geojson", xs[0], ys[0], xs[1], ys[1])
    plan = plan_region(aoi, PlanConfig(tile_km=1, margin_m=100))
    path = plan.save(tmp_path / "plan.json")
    return plan, path
