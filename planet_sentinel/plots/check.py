"""Per plot: forest loss since the cutoff (ha and share), the alerts inside it, and a verdict.

Loss and unknown pixels are read from the prediction's loss COG (0 no loss, 1 loss, 255 unknown:
nodata, cloud or shadow on either date; ``planet_sentinel.predict.scene``) through a rasterio
window around each plot, in the scene's CRS, so areas are in square metres. The part of a plot
outside the scene counts as unknown. Verdicts, in this order:

* ``loss detected``: more than ``min_loss_ha`` of loss inside the plot;
* ``unknown: clouds``: otherwise, when more than ``max_unknown_share`` of the plot is unknown;
* ``no loss detected``: otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.bands import MASK_LOSS, MASK_UNKNOWN
from planet_sentinel.plots.load import Plot, PlotError
from planet_sentinel.raster import Grid

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from shapely.geometry.base import BaseGeometry

    from planet_sentinel.alerts.model import AlertFeature

Verdict = Literal["no loss detected", "loss detected", "unknown: clouds"]


class PlotsCheckConfig(BaseModel):
    """The ``plots`` settings: what counts as loss and as too much unknown."""

    model_config = ConfigDict(extra="forbid")

    cutoff: str = Field("2020-12-31", description="EUDR cutoff date: loss after it counts.")
    min_loss_ha: float = Field(0.0, ge=0, description="Loss (ha) a plot must exceed to be 'loss detected'.")
    max_unknown_share: float = Field(
        0.1, ge=0, le=1, description="Share of a plot that may be unknown (cloud, no data) for 'no loss detected'."
    )


@dataclass
class PlotResult:
    """One checked plot (a row of the CSV)."""

    plot_id: str
    geometry: BaseGeometry  # WGS 84: the polygon, or the circle a point became
    properties: dict[str, Any]
    area_ha: float
    loss_ha: float
    loss_share: float
    unknown_share: float
    alert_ids: list[str]
    verdict: Verdict
    notes: list[str] = field(default_factory=list)


def check_plot(
    plot: Plot,
    grid: Grid,
    loss: DatasetReader,
    alerts: list[AlertFeature],
    config: PlotsCheckConfig,
) -> PlotResult | PlotError:
    """Check one plot against the loss COG ``loss`` (on ``grid``) and the ``alerts``."""
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping, shape

    projected = shape(transform_geom("EPSG:4326", grid.crs, mapping(plot.geometry)))
    if plot.point_area_ha is not None:
        projected = projected.buffer(math.sqrt(plot.point_area_ha * 10_000 / math.pi), quad_segs=64)
    inside_scene = projected.intersection(box(*grid.bounds))
    if inside_scene.area <= 0:
        return PlotError(plot.plot_id, f"plot {plot.plot_id}: outside the scene ({grid.describe()})", plot.properties)
    wgs84 = shape(transform_geom(grid.crs, "EPSG:4326", mapping(projected)))
    area_m2 = projected.area
    pixel_m2 = grid.resolution[0] * grid.resolution[1]
    loss_px, unknown_px, seen_px = _pixel_counts(inside_scene, loss)
    # Pixel centres inside the plot stand for the plot's covered area (scaled, so a plot not on
    # pixel edges still sums to its own area).
    scale = inside_scene.area / (seen_px * pixel_m2) if seen_px else 0.0
    loss_m2 = loss_px * pixel_m2 * scale
    unknown_m2 = (unknown_px * pixel_m2 * scale) + (area_m2 - inside_scene.area)
    if not seen_px:
        unknown_m2 = area_m2
    notes = list(plot.notes)
    if inside_scene.area < area_m2 * (1 - 1e-9):
        notes.append(f"{1 - inside_scene.area / area_m2:.0%} of the plot is outside the scene (counted as unknown)")
    loss_ha = loss_m2 / 10_000
    unknown_share = min(1.0, max(0.0, unknown_m2 / area_m2))
    verdict: Verdict
    if loss_ha > config.min_loss_ha:
        verdict = "loss detected"
    elif unknown_share > config.max_unknown_share:
        verdict = "unknown: clouds"
    else:
        verdict = "no loss detected"
    return PlotResult(
        plot_id=plot.plot_id,
        geometry=wgs84,
        properties=plot.properties,
        area_ha=round(area_m2 / 10_000, 4),
        loss_ha=round(loss_ha, 4),
        loss_share=round(loss_m2 / area_m2, 4),
        unknown_share=round(unknown_share, 4),
        alert_ids=_alerts_inside(wgs84, alerts, config.cutoff),
        verdict=verdict,
        notes=notes,
    )


def _pixel_counts(geometry: BaseGeometry, loss: DatasetReader) -> tuple[int, int, int]:
    """(loss, unknown, all) pixels whose centre lies in ``geometry`` (every touched pixel for a
    plot smaller than one pixel), read through the window around it."""
    from rasterio.features import geometry_mask, geometry_window

    window = geometry_window(loss, [geometry])
    values = loss.read(1, window=window)
    transform = loss.window_transform(window)
    inside = geometry_mask([geometry], values.shape, transform, invert=True)
    if not inside.any():
        inside = geometry_mask([geometry], values.shape, transform, invert=True, all_touched=True)
    picked = values[inside]
    return int((picked == MASK_LOSS).sum()), int((picked == MASK_UNKNOWN).sum()), int(picked.size)


def _alerts_inside(plot: BaseGeometry, alerts: list[AlertFeature], cutoff: str) -> list[str]:
    """Ids of the alerts that overlap the plot (a positive area in common) and whose period ends
    after ``cutoff`` (a period across the cutoff may hold loss after it: for due diligence, listed)."""
    from shapely.geometry import shape

    inside = []
    for alert in alerts:
        if alert.properties.observed_before <= cutoff:
            continue
        geometry = shape(alert.geometry.model_dump())
        if geometry.intersects(plot) and geometry.intersection(plot).area > 0:
            inside.append(alert.id)
    return sorted(inside)
