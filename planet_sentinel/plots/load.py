"""Supplier plots as operators submit them: a GeoJSON of polygons, or points with an area.

What is accepted, after the EU Deforestation Regulation's geolocation rules: a plot is a Polygon
or MultiPolygon in WGS 84 lon/lat; a plot of at most 4 ha may be a Point with its area, and a
plot over 4 ha must be a polygon (Regulation (EU) 2023/1115, art. 2(28), quoted at
https://open-atlas-docs.netlify.app/docs/vantage-x/plot-of-land; the Commission's "EUDR GeoJSON
File Description" names the point's area property ``Area``, in hectares,
https://www.eudrgeolocation.com/eudr-polygon-4-hectares). A point becomes a circle of its area.

Every bad plot (no geometry, another geometry type, an invalid or self-intersecting polygon, a
point without an area, an id used twice) becomes a :class:`PlotError` naming the plot; the
others are still checked.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError, require_file

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

#: Property names of a plot's id, in the order they are looked for (then the feature's own ``id``).
ID_PROPERTIES = ("plot_id", "id", "ProductionPlace")
#: Property names of a point plot's area in hectares: ``Area`` is the EUDR GeoJSON File Description's.
AREA_PROPERTIES = ("Area", "area_ha", "area")
#: EUDR: plots larger than this (ha) must be polygons, not points.
EUDR_POINT_MAX_HA = 4.0


@dataclass
class Plot:
    """One plot to check: its id and its geometry in WGS 84 (a point already turned into a circle later)."""

    plot_id: str
    geometry: BaseGeometry
    properties: dict[str, Any]
    #: For a point plot: its area (ha), from which the circle is drawn in the scene's CRS.
    point_area_ha: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class PlotError:
    """A plot that cannot be checked, and why (the message names the plot)."""

    plot_id: str
    message: str
    properties: dict[str, Any] = field(default_factory=dict)
    geometry: dict[str, Any] | None = None


def load_plots(path: str | Path) -> list[Plot | PlotError]:
    """Every feature of the plots file as a :class:`Plot` or a :class:`PlotError`, in file order."""
    p = require_file(path, "plots GeoJSON")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SentinelError(f"{p}: not JSON ({exc})") from exc
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise SentinelError(f"{p}: not a GeoJSON FeatureCollection of plots")
    features = [f if isinstance(f, dict) else {} for f in data["features"]]
    if not features:
        raise SentinelError(f"{p}: the FeatureCollection has no plots")
    ids = [_plot_id(f, i) for i, f in enumerate(features)]
    counts = Counter(ids)
    plots: list[Plot | PlotError] = []
    for plot_id, feature in zip(ids, features, strict=True):
        properties = _properties(feature)
        if counts[plot_id] > 1:
            message = f"plot {plot_id}: id used by {counts[plot_id]} plots; give each plot its own id"
            plots.append(PlotError(plot_id, message, properties, feature.get("geometry")))
            continue
        plots.append(_plot(plot_id, feature, properties))
    return plots


def _properties(feature: dict[str, Any]) -> dict[str, Any]:
    properties = feature.get("properties")
    return properties if isinstance(properties, dict) else {}


def _plot_id(feature: dict[str, Any], index: int) -> str:
    properties = _properties(feature)
    for key in ID_PROPERTIES:
        if properties.get(key) not in (None, ""):
            return str(properties[key])
    if feature.get("id") not in (None, ""):
        return str(feature["id"])
    return f"#{index + 1}"  # no id: its place in the file


def _plot(plot_id: str, feature: dict[str, Any], properties: dict[str, Any]) -> Plot | PlotError:
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    raw = feature.get("geometry")
    if not isinstance(raw, dict):
        return PlotError(plot_id, f"plot {plot_id}: no geometry", properties)

    def error(message: str) -> PlotError:
        return PlotError(plot_id, f"plot {plot_id}: {message}", properties, raw)

    kind = raw.get("type")
    if kind not in ("Polygon", "MultiPolygon", "Point"):
        return error(f"a {kind} is not a plot; give a Polygon, a MultiPolygon or a Point with an area")
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        return error(f"unreadable {kind} coordinates ({exc})")
    if geometry.is_empty:
        return error(f"empty {kind}")
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return error("coordinates out of lon/lat range; GeoJSON plots are WGS 84 [lon, lat]")
    if kind == "Point":
        return _point(plot_id, geometry, properties, error)
    if not geometry.is_valid:
        return error(f"invalid polygon: {explain_validity(geometry)}")
    return Plot(plot_id, geometry, properties)


def _point(
    plot_id: str, geometry: BaseGeometry, properties: dict[str, Any], error: Callable[[str], PlotError]
) -> Plot | PlotError:
    key = next((k for k in AREA_PROPERTIES if properties.get(k) is not None), None)
    if key is None:
        return error(f"a point needs its area in hectares (property {' or '.join(AREA_PROPERTIES)})")
    try:
        area = float(properties[key])
    except (TypeError, ValueError):
        area = math.nan
    if not math.isfinite(area) or area <= 0:
        return error(f"property {key} = {properties[key]!r} is not a positive area in hectares")
    plot = Plot(plot_id, geometry, properties, point_area_ha=area)
    if area > EUDR_POINT_MAX_HA:
        plot.notes.append(f"EUDR asks for a polygon for plots over {EUDR_POINT_MAX_HA:g} ha; checked as a circle")
    return plot
