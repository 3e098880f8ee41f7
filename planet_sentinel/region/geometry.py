"""Geometry between lon/lat and the UTM zones a region spans: reprojection, zone strips, areas.

Why a module: the plan cuts the AOI along zone borders and the merge dissolves alerts across
them; both must reproject the same way (densified first, so a long lon/lat edge stays a curve in
UTM and the other way round).
"""

from __future__ import annotations

from typing import Any

from planet_sentinel.errors import SentinelError

#: Longest edge kept when reprojecting, in the source CRS units (degrees for lon/lat, metres for UTM).
SEGMENT_DEG = 0.01
SEGMENT_M = 100.0
#: UTM covers these latitudes (EPSG 326xx/327xx are defined from 80 S to 84 N).
UTM_SOUTH, UTM_NORTH = -80.0, 84.0


def reproject(geometry: Any, src: str, dst: str) -> Any:
    """``geometry`` (shapely) from CRS ``src`` to ``dst``, its edges densified first."""
    import shapely
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape

    segment = SEGMENT_DEG if src == "EPSG:4326" else SEGMENT_M
    dense = shapely.segmentize(geometry, segment)
    return shape(transform_geom(src, dst, mapping(dense)))


def utm_epsg(zone: int, north: bool) -> int:
    """EPSG code of WGS 84 / UTM ``zone`` (1..60) in the northern (326xx) or southern (327xx) hemisphere."""
    if not 1 <= zone <= 60:
        raise SentinelError(f"UTM zone {zone} is outside 1..60")
    return (32600 if north else 32700) + zone


def zone_strips(bounds: tuple[float, float, float, float]) -> list[tuple[int, bool, Any]]:
    """(zone, north, lon/lat box) of every UTM zone and hemisphere that ``bounds`` (W, S, E, N) touches.

    Zones are the regular 6-degree strips (zone 1 starts at 180 W); the Norway and Svalbard
    exceptions are not applied, as in :func:`planet_sentinel.raster.utm_crs_for`.
    """
    from shapely.geometry import box

    west, south, east, north = bounds
    if south < UTM_SOUTH or north > UTM_NORTH:
        raise SentinelError(
            f"the AOI reaches latitude {south if south < UTM_SOUTH else north:.3f}: UTM tiles cover {UTM_SOUTH:g} to "
            f"{UTM_NORTH:g} only"
        )
    first = min(60, int((west + 180) // 6) + 1)
    last = min(60, int((east + 180) // 6) + 1)
    strips = []
    for zone in range(first, last + 1):
        lon0 = -180.0 + 6 * (zone - 1)
        for is_north, (lat0, lat1) in ((False, (UTM_SOUTH, 0.0)), (True, (0.0, UTM_NORTH))):
            if lat1 <= south or lat0 >= north:
                continue
            strips.append((zone, is_north, box(lon0, lat0, lon0 + 6.0, lat1)))
    return strips
