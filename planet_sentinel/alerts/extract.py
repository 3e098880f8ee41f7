"""A prediction's loss polygons as alert features.

The polygons are the prediction's own (:func:`planet_sentinel.predict.vectorise.vectorise`: the
loss COG at the model's threshold, minimum mapping unit applied, area in the scene's projected
CRS, reprojected to WGS 84). What alerts add: each polygon's max probability, read through a
rasterio window of the probability COG around it, which splits ``nominal`` from ``high``
confidence; the period's dates; and the stable id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planet_sentinel.alerts.dates import Period
from planet_sentinel.alerts.ids import centroid, feature_id
from planet_sentinel.alerts.model import SCENE_TILE, AlertFeature, AlertGeometry, AlertProperties
from planet_sentinel.bands import MASK_LOSS
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.scene import PROBABILITY_NODATA
from planet_sentinel.raster import Grid, open_raster, require_same_grid

if TYPE_CHECKING:
    from rasterio.io import DatasetReader


@dataclass(frozen=True)
class AlertContext:
    """What every alert of one prediction shares: period, tile, model and the confidence split."""

    period: Period
    model_name: str
    model_version: str | None = None
    run_id: str | None = None
    tile_id: str = SCENE_TILE
    #: Max probability from which an alert is ``high``; None: every alert is ``nominal``.
    high_threshold: float | None = None


def extract_alerts(
    loss_path: Path, probability_path: Path, min_area_ha: float, context: AlertContext
) -> list[AlertFeature]:
    """Alert features of a prediction's loss and probability COGs (largest first)."""
    from planet_sentinel.predict.vectorise import vectorise

    grid = Grid.read(loss_path)
    require_same_grid(grid, Grid.read(probability_path), str(loss_path), str(probability_path))
    if not grid.crs.is_projected:
        raise SentinelError(f"{loss_path}: CRS {grid.crs} is not projected; alerts need areas in metres (a UTM CRS)")
    polygons = vectorise(loss_path, probability_path, grid, min_area_ha)
    alerts = []
    with open_raster(loss_path) as loss, open_raster(probability_path) as probability:
        for polygon in polygons:
            geometry: dict[str, Any] = dict(polygon["geometry"])
            top = _max_probability(geometry, grid, loss, probability)
            alerts.append(_alert(geometry, polygon["properties"]["area_ha"], top, context))
    return alerts


def _alert(geometry: dict[str, Any], area_ha: float, max_probability: float, context: AlertContext) -> AlertFeature:
    period = context.period
    lon, lat = centroid(geometry)
    high = context.high_threshold is not None and max_probability >= context.high_threshold
    alert_id = feature_id(geometry, period.observed_after, period.observed_before)
    properties = AlertProperties(
        id=alert_id,
        observed_after=period.observed_after,
        observed_before=period.observed_before,
        confidence="high" if high else "nominal",
        status="new",
        area_ha=area_ha,
        lon=lon,
        lat=lat,
        tile_id=context.tile_id,
        model_name=context.model_name,
        model_version=context.model_version,
        run_id=context.run_id,
        max_probability=max_probability,
    )
    return AlertFeature(id=alert_id, geometry=AlertGeometry.model_validate(geometry), properties=properties)


def _max_probability(geometry: dict[str, Any], grid: Grid, loss: DatasetReader, probability: DatasetReader) -> float:
    """Highest probability (0..1) of the polygon's loss pixels, read through the window around it."""
    from rasterio.features import geometry_mask, geometry_window
    from rasterio.warp import transform_geom

    projected = transform_geom("EPSG:4326", grid.crs, geometry)
    window = geometry_window(loss, [projected], pad_x=1, pad_y=1)
    inside = geometry_mask([projected], (window.height, window.width), loss.window_transform(window), invert=True)
    percent = probability.read(1, window=window)
    keep = inside & (loss.read(1, window=window) == MASK_LOSS) & (percent != PROBABILITY_NODATA)
    if not keep.any():  # cannot happen for a polygon traced from the loss COG; no alert is worth a crash
        return 0.0
    return round(float(np.max(percent[keep])) / 100.0, 2)
