"""Areas of interest: GeoJSON loading and validation, area, UTM zone and grid alignment.

An AOI is a polygon (or multipolygon) in EPSG:4326 longitude/latitude, as RFC 7946 requires of
GeoJSON. Areas are measured in the AOI's UTM zone, never in degrees, and the pixel grid an AOI
maps to is a UTM grid whose origin sits on whole multiples of the resolution, so scenes of the
same AOI fetched at different times land on exactly the same pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.errors import SentinelError, require_file
from planet_sentinel.raster import Grid, utm_crs_for

#: Longest edge (degrees) kept when measuring or projecting an AOI: long lon/lat edges are
#: curves in UTM, so they are densified first (0.01 deg is about 1 km).
_SEGMENT_DEG = 0.01

_POLYGONS = ("Polygon", "MultiPolygon")
_CRS84_NAMES = (
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "EPSG:4326",
    "urn:ogc:def:crs:EPSG::4326",
)


def aligned_grid(crs: Any, bounds: tuple[float, float, float, float], resolution: float = 10) -> Grid:
    """A north-up grid in ``crs`` covering ``bounds`` with its edges on multiples of ``resolution``.

    Args:
        crs: anything ``rasterio.crs.CRS.from_user_input`` accepts; must be projected.
        bounds: (left, bottom, right, top) in ``crs`` units.
        resolution: pixel size in ``crs`` units.
    """
    from affine import Affine
    from rasterio.crs import CRS

    if resolution <= 0:
        raise SentinelError(f"resolution must be positive, got {resolution}")
    crs = CRS.from_user_input(crs)
    left, bottom, right, top = bounds
    if not all(math.isfinite(v) for v in bounds) or right <= left or top <= bottom:
        raise SentinelError(f"cannot build a grid over empty or invalid bounds {bounds} in {crs}")
    # Snap outwards; the small tolerance keeps bounds already on the grid from growing a pixel.
    eps = resolution * 1e-6
    x0 = math.floor((left + eps) / resolution) * resolution
    y1 = math.ceil((top - eps) / resolution) * resolution
    x1 = math.ceil((right - eps) / resolution) * resolution
    y0 = math.floor((bottom + eps) / resolution) * resolution
    width = max(1, round((x1 - x0) / resolution))
    height = max(1, round((y1 - y0) / resolution))
    return Grid(crs, Affine(resolution, 0.0, x0, 0.0, -resolution, y1), width, height)


@dataclass(frozen=True)
class Aoi:
    """A validated area of interest.

    Attributes:
        geometry: shapely Polygon or MultiPolygon in EPSG:4326 (lon, lat).
        area_km2: area measured in ``utm_crs``.
        utm_crs: EPSG code of the WGS 84 UTM zone of the centroid, e.g. ``"EPSG:32720"``.
        source: the file it was loaded from, if any.
    """

    geometry: Any
    area_km2: float
    utm_crs: str
    source: Path | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        west, south, east, north = self.geometry.bounds
        return float(west), float(south), float(east), float(north)

    def projected(self, crs: Any = None) -> Any:
        """The geometry in ``crs`` (default: the UTM zone) as a shapely geometry."""
        return _project(self.geometry, crs or self.utm_crs)

    def grid(self, resolution: float = 10) -> Grid:
        """The UTM grid covering the AOI, origin aligned to whole multiples of ``resolution``."""
        return aligned_grid(self.utm_crs, self.projected().bounds, resolution)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source) if self.source else None,
            "bounds_lonlat": list(self.bounds),
            "area_km2": self.area_km2,
            "utm_crs": self.utm_crs,
        }


def _project(geometry: Any, crs: Any) -> Any:
    import shapely
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape

    dense = shapely.segmentize(geometry, _SEGMENT_DEG)
    return shape(transform_geom("EPSG:4326", crs, mapping(dense)))


def _geometries(doc: Any, path: Path) -> Iterable[tuple[str, Any]]:
    """(label, geometry dict) for every geometry of a GeoJSON document."""
    if not isinstance(doc, dict) or "type" not in doc:
        raise SentinelError(f"{path}: not a GeoJSON object (no 'type' member)")
    kind = doc["type"]
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise SentinelError(f"{path}: FeatureCollection without a 'features' list")
        for i, feature in enumerate(features):
            if not isinstance(feature, dict):
                raise SentinelError(f"{path}: feature {i} is not a GeoJSON object")
            label = f"feature {feature.get('id', i)!s}"
            yield label, feature.get("geometry")
    elif kind == "Feature":
        yield f"feature {doc.get('id', 0)!s}", doc.get("geometry")
    else:
        yield "geometry", doc


def _check_crs_member(doc: Any, path: Path) -> None:
    crs = doc.get("crs") if isinstance(doc, dict) else None
    if not crs:
        return
    name = str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, dict) else ""
    if name not in _CRS84_NAMES:
        raise SentinelError(
            f"{path}: declares CRS {name or crs!r}; an AOI must be GeoJSON in EPSG:4326 lon/lat "
            "(RFC 7946). Reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 aoi.geojson input.shp`."
        )


def _check_lonlat(geometry: Any, label: str, path: Path) -> None:
    west, south, east, north = geometry.bounds
    if -180 <= west and east <= 180 and -90 <= south and north <= 90:
        return
    hint = ""
    if -90 <= west and east <= 90 and -180 <= south and north <= 180:
        hint = " The coordinates look like (lat, lon): GeoJSON order is (lon, lat)."
    raise SentinelError(
        f"{path}: {label} has coordinates outside the lon/lat range "
        f"(bounds {west:.6g}, {south:.6g}, {east:.6g}, {north:.6g}): the AOI looks projected "
        "or in the wrong CRS. GeoJSON AOIs must be EPSG:4326 longitude/latitude (RFC 7946); "
        "reproject it, e.g. `ogr2ogr -t_srs EPSG:4326 aoi.geojson input.geojson`." + hint
    )


def aoi_from_geometry(geometry: Any, source: Path | None = None, label: str = "geometry") -> Aoi:
    """Validate a shapely (multi)polygon in lon/lat and build an :class:`Aoi` from it."""
    from shapely.validation import explain_validity

    where = source if source is not None else Path("<aoi>")
    if geometry is None or geometry.is_empty:
        raise SentinelError(f"{where}: the AOI is empty; draw at least one polygon")
    if geometry.geom_type not in _POLYGONS:
        raise SentinelError(f"{where}: {label} is a {geometry.geom_type}; an AOI must be a Polygon or MultiPolygon")
    _check_lonlat(geometry, label, where)
    if not geometry.is_valid:
        raise SentinelError(
            f"{where}: {label} is not a valid polygon: {explain_validity(geometry)}. "
            "Fix it (e.g. QGIS 'Fix geometries') so its rings do not cross themselves."
        )
    if geometry.area <= 0:
        raise SentinelError(f"{where}: {label} has zero area")
    centroid = geometry.centroid
    utm = utm_crs_for(centroid.x, centroid.y)
    area_km2 = _project(geometry, utm).area / 1e6
    return Aoi(geometry=geometry, area_km2=float(area_km2), utm_crs=utm, source=source)


def load_aoi(path: str | Path) -> Aoi:
    """Load and validate an AOI from a GeoJSON file.

    Accepts a FeatureCollection, a Feature or a bare geometry, of Polygon or MultiPolygon type,
    in EPSG:4326 lon/lat (RFC 7946). Several features are merged into one geometry.

    Raises:
        SentinelError: the file is missing or not GeoJSON; a geometry is not a polygon, invalid
            (self-intersecting) or outside the lon/lat range; or the AOI is empty.
    """
    from shapely import unary_union
    from shapely.geometry import shape

    path = require_file(path, "GeoJSON")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SentinelError(f"{path}: not valid GeoJSON ({exc})") from exc
    _check_crs_member(doc, path)
    parts = []
    for label, geom in _geometries(doc, path):
        if not geom:
            raise SentinelError(f"{path}: {label} has no geometry")
        try:
            shp = shape(geom)
        except Exception as exc:  # shapely raises several types for malformed input
            raise SentinelError(f"{path}: {label} has a malformed geometry ({exc})") from exc
        # Validate each part on its own so the message names the culprit.
        aoi_from_geometry(shp, path, label)
        parts.append(shp)
    if not parts:
        raise SentinelError(f"{path}: the AOI is empty (no features); draw at least one polygon")
    geometry = parts[0] if len(parts) == 1 else unary_union(parts)
    return aoi_from_geometry(geometry, path, "the merged AOI")
