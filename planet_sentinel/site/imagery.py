"""True-colour composites as map overlays: downscaled, warped to WGS 84, written as WebP (or PNG).

Why warp: Leaflet places an image overlay by its lon/lat corners, so an image on a UTM grid must
first be resampled onto a lon/lat grid, or it sits rotated against the alerts (which are lon/lat).
The scene is read decimated through :func:`planet_sentinel.quicklook.true_colour` (GDAL
overviews), so a 1,000 km² scene costs a few megabytes of memory and a few hundred kB on the site.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planet_sentinel.raster import atomic_path, open_raster

#: Longest side of a quicklook on the site, in pixels (the size budget assumes it).
MAX_SIDE = 1024


@dataclass(frozen=True)
class Overlay:
    """An image on the site and where it lies: (south, west, north, east) in degrees."""

    file: Path
    bounds: tuple[float, float, float, float]
    width: int
    height: int


def _warp_to_wgs84(
    rgb: np.ndarray, src_crs: object, src_bounds: tuple[float, ...]
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``rgb`` (rows, cols, 3) covering ``src_bounds`` in ``src_crs`` -> RGBA on a lon/lat grid, and its bounds."""
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    rows, cols = rgb.shape[:2]
    src_transform = from_bounds(*src_bounds, cols, rows)
    dst_transform, width, height = calculate_default_transform(
        src_crs, "EPSG:4326", cols, rows, *src_bounds, dst_width=cols, dst_height=rows
    )
    valid = np.any(rgb > 0, axis=-1).astype(np.uint8) * 255
    source = np.concatenate([np.moveaxis(rgb, -1, 0), valid[None]], axis=0)
    out = np.zeros((4, height, width), np.uint8)
    reproject(
        source,
        out,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs="EPSG:4326",
        resampling=Resampling.nearest,
        src_nodata=None,
    )
    west, north = dst_transform.c, dst_transform.f
    east, south = west + dst_transform.a * width, north + dst_transform.e * height
    return np.moveaxis(out, 0, -1), (south, west, north, east)


def composite_overlay(scene: str | Path, target: Path, max_side: int = MAX_SIDE) -> Overlay:
    """Write ``scene``'s true-colour quicklook to ``target`` (``.webp`` or ``.png``) in WGS 84."""
    from PIL import Image

    from planet_sentinel.quicklook import true_colour

    with open_raster(scene) as ds:
        crs, bounds = ds.crs, tuple(ds.bounds)
    rgb = true_colour(scene, max_size=max_side)
    rgba, lonlat = _warp_to_wgs84(rgb, crs, bounds)
    image = Image.fromarray(rgba, "RGBA")
    image.thumbnail((max_side, max_side))  # the warp may add a few pixels on one side
    fmt = "WEBP" if target.suffix == ".webp" else "PNG"
    with atomic_path(target, suffix=target.suffix) as tmp:
        image.save(tmp, format=fmt, **({"quality": 80, "method": 4} if fmt == "WEBP" else {"optimize": True}))
    return Overlay(target, lonlat, image.width, image.height)
