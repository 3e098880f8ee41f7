"""Alerts of neighbouring tiles dissolved into one set: each tile keeps its core, cut pieces are joined.

Why clip first: a tile is predicted over its cell plus a margin, so the alerts of two neighbours
overlap in the margins. Keeping of each tile only the part of its alerts inside its core (where
its prediction had the margin's context) leaves every place claimed by exactly one tile; a polygon
that crossed a border is then in pieces that share an edge along it. Pieces of different tiles
that share an edge (at least half a pixel long; touching at a corner is not enough, as in the
4-connected patches the prediction traces) are one alert. Pieces are compared and joined in one
common CRS (the UTM zone with the most tiles); each alert's area is measured in the UTM CRS of the
tile that holds most of it, its centroid and id recomputed with the alerts' own functions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from planet_sentinel.alerts.ids import centroid, feature_id
from planet_sentinel.alerts.model import AlertFeature, AlertGeometry, AlertProperties
from planet_sentinel.region.geometry import reproject
from planet_sentinel.region.plan import PlanTile

#: Metres: gaps of the lon/lat round trip (coordinates kept to 1e-7 degree, about 1 cm) are closed
#: within this, and pieces thinner than it (slivers along a border) are dropped.
SNAP_M = 0.05


@dataclass
class Piece:
    """The part of one tile's alert inside the tile's core, in the common CRS."""

    tile: PlanTile
    alert: AlertFeature
    geometry: Any  # shapely, common CRS
    area_m2: float  # in the tile's CRS
    whole: bool  # the alert lay inside the core: nothing was cut off


def common_crs(tiles: list[PlanTile]) -> str:
    """The UTM CRS of most tiles (ties: the lowest EPSG code): where pieces meet."""
    counts = Counter(t.epsg for t in tiles)
    return f"EPSG:{min(counts, key=lambda epsg: (-counts[epsg], epsg))}"


def core_geometry(tile: PlanTile) -> Any:
    """The tile's core in its own CRS: the exact cell, or the cell cut at a zone border."""
    from shapely.geometry import box, shape

    if not tile.cut:
        return box(*tile.bounds)
    return reproject(shape(tile.core), "EPSG:4326", tile.crs)


def clip_pieces(tile: PlanTile, alerts: list[AlertFeature], crs: str) -> list[Piece]:
    """The parts of ``alerts`` inside the tile's core, as :class:`Piece` in ``crs``."""
    from shapely.geometry import shape

    core = core_geometry(tile)
    pieces = []
    for alert in alerts:
        local = reproject(shape(alert.geometry.model_dump()), "EPSG:4326", tile.crs)
        inside = _opened(local.intersection(core))
        if inside.is_empty or inside.area <= 0:
            continue
        whole = abs(inside.area - local.area) <= max(1.0, 1e-6 * local.area)
        common = inside if crs == tile.crs else reproject(inside, tile.crs, crs)
        pieces.append(Piece(tile, alert, common, float(inside.area), whole))
    return pieces


def _opened(geometry: Any) -> Any:
    """``geometry`` without the parts thinner than 2 x SNAP_M (slivers of a cut along a border)."""
    from shapely.geometry import MultiPolygon, Polygon

    if geometry.is_empty:
        return geometry
    opened = geometry.buffer(-SNAP_M, join_style="mitre").buffer(SNAP_M, join_style="mitre")
    polygons = [g for g in getattr(opened, "geoms", [opened]) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(polygons) if len(polygons) > 1 else (polygons[0] if polygons else Polygon())


def group_pieces(pieces: list[Piece], resolution_m: float) -> list[list[Piece]]:
    """Pieces of different tiles that share an edge (>= half a pixel) or overlap, in connected groups."""
    from shapely import STRtree

    parent = list(range(len(pieces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = STRtree([p.geometry for p in pieces])
    min_shared = resolution_m / 2 * SNAP_M
    for i, piece in enumerate(pieces):
        grown = piece.geometry.buffer(SNAP_M, join_style="mitre")
        for j in tree.query(grown):
            j = int(j)
            if j <= i or pieces[j].tile.id == piece.tile.id:
                continue
            if grown.intersection(pieces[j].geometry).area >= min_shared:
                parent[root(j)] = root(i)
    groups: dict[int, list[Piece]] = {}
    for i, piece in enumerate(pieces):
        groups.setdefault(root(i), []).append(piece)
    return list(groups.values())


def dissolve(group: list[Piece], crs: str) -> AlertFeature:
    """One alert of a group of pieces: the original where nothing was cut, else the union, re-measured."""
    if len(group) == 1 and group[0].whole:
        return group[0].alert
    from shapely import unary_union
    from shapely.geometry import mapping
    from shapely.geometry.polygon import orient

    union = unary_union([p.geometry.buffer(SNAP_M, join_style="mitre") for p in group])
    union = union.buffer(-SNAP_M, join_style="mitre")
    area_by_tile: dict[str, float] = {}
    for piece in group:
        area_by_tile[piece.tile.id] = area_by_tile.get(piece.tile.id, 0.0) + piece.area_m2
    biggest = max(sorted(area_by_tile), key=lambda tile: area_by_tile[tile])
    main = next(p for p in group if p.tile.id == biggest)
    local = union if main.tile.crs == crs else reproject(union, crs, main.tile.crs)
    lonlat = reproject(union, crs, "EPSG:4326")
    if lonlat.geom_type == "Polygon":
        lonlat = orient(lonlat, sign=1.0)
    else:
        lonlat = type(lonlat)([orient(g, sign=1.0) for g in lonlat.geoms])
    geometry = _rounded(mapping(lonlat))
    return _merged_alert(group, main, geometry, round(float(local.area) / 10_000, 4))


def _merged_alert(group: list[Piece], main: Piece, geometry: dict[str, Any], area_ha: float) -> AlertFeature:
    props = [p.alert.properties for p in group]
    after = min(p.observed_after for p in props)
    before = max(p.observed_before for p in props)
    lon, lat = centroid(geometry)
    alert_id = feature_id(geometry, after, before)
    top = max(props, key=lambda p: p.max_probability)
    merged = AlertProperties(
        **{
            **main.alert.properties.model_dump(),
            "id": alert_id,
            "observed_after": after,
            "observed_before": before,
            "confidence": "high" if any(p.confidence == "high" for p in props) else "nominal",
            "status": "confirmed" if any(p.status == "confirmed" for p in props) else "new",
            "area_ha": area_ha,
            "lon": lon,
            "lat": lat,
            "max_probability": top.max_probability,
        }
    )
    return AlertFeature(id=alert_id, geometry=AlertGeometry.model_validate(geometry), properties=merged)


def _rounded(geometry: Any, digits: int = 7) -> dict[str, Any]:
    """A GeoJSON mapping with coordinates rounded to ``digits`` (about 1 cm), as the tiles write them."""

    def rnd(coords: Any) -> Any:
        if isinstance(coords[0], (int, float)):
            return [round(float(c), digits) for c in coords]
        return [rnd(c) for c in coords]

    return {"type": str(geometry["type"]), "coordinates": rnd(geometry["coordinates"])}
