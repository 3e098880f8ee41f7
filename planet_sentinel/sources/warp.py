"""Bringing single-band rasters onto one 10 m grid: choosing the grid, warping each band, staging a date.

Every band is warped straight from its own file onto the target grid, one band at a time
(bilinear for reflectance, nearest for masks), so memory stays bounded by one band whatever the
number of bands; 10 m bands already on the target grid are copied without resampling. The warped
bands of a date are staged in memory-mapped files on disk so that a pixel missing from any band
can be cleared from all bands of that date before the scene is written. Used by
:mod:`planet_sentinel.sources.files`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.aoi import aligned_grid
from planet_sentinel.bands import CATALOGUE, MASK_UNKNOWN, NODATA
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid, block_windows, open_raster, scene_writer, utm_crs_for

log = logging.getLogger(__name__)

#: Resolution of every imported scene, metres.
TARGET_RESOLUTION = 10
#: Rows per strip when post-processing staged bands.
STRIP_ROWS = 1024


# --------------------------------------------------------------------------------------------
# Target grid


def _is_metric_projected(crs: Any) -> bool:
    if crs is None or not crs.is_projected:
        return False
    from rasterio.errors import CRSError

    try:
        unit, factor = crs.linear_units_factor
    except CRSError:  # no linear unit: rasterio/crs.pyx (tag 1.4.4) CRS.linear_units_factor raises only CRSError
        return False
    return bool(abs(factor - 1.0) < 1e-9)


def describe_source(path: Path, band: str) -> dict[str, Any]:
    """Open a source band file, check it, and describe it for the import summary."""
    with open_raster(path) as ds:
        if ds.count != 1:
            raise SentinelError(
                f"{path}: expected a single-band raster for {band}, got {ds.count} bands; pass one file per band"
            )
        if ds.crs is None:
            raise SentinelError(f"{path}: not georeferenced (no CRS); imports need georeferenced band files")
        dtype = ds.dtypes[0]
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise SentinelError(
                f"{path}: {dtype} data; expected integer digital numbers (reflectance x 10000, "
                "as Copernicus delivers them)"
            )
        return {
            "path": str(path),
            "crs": ds.crs.to_string(),
            "size": [ds.width, ds.height],
            "pixel_size": [abs(ds.transform.a), abs(ds.transform.e)],
            "pixel_size_units": "degrees" if ds.crs.is_geographic else "metres",
            "native_resolution_m": CATALOGUE[band].resolution_m,
            "dtype": dtype,
            "nodata": ds.nodata,
        }


def target_grid(reference: Path, crs: str | None = None) -> tuple[Grid, str]:
    """The 10 m grid an import writes on, and how it was chosen.

    The reference (the before date's 10 m band) is used as is when it is in a metric projected
    CRS at 10 m, north-up; otherwise (geographic reference, other resolution, or an explicit
    ``crs``) a grid with its origin on whole 10 m is built over the reference footprint, in
    ``crs`` or the UTM zone of the footprint's centre.
    """
    from rasterio.crs import CRS
    from rasterio.errors import CRSError
    from rasterio.warp import transform, transform_bounds

    with open_raster(reference) as ds:
        ref = Grid.of(ds)
    if ref.crs is None:
        raise SentinelError(f"{reference}: not georeferenced (no CRS)")
    t = ref.transform
    if crs is None and _is_metric_projected(ref.crs):
        north_up = t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0
        if north_up and all(abs(r - TARGET_RESOLUTION) < 1e-6 for r in ref.resolution):
            return ref, f"the grid of {reference.name}"
        return aligned_grid(ref.crs, ref.bounds, TARGET_RESOLUTION), (f"10 m grid in {ref.crs} over {reference.name}")
    if crs is not None:
        try:
            dst = CRS.from_user_input(crs)
        except CRSError as exc:
            raise SentinelError(f"unknown CRS {crs!r}: {exc}") from exc
        if not _is_metric_projected(dst):
            raise SentinelError(
                f"CRS {crs!r} is not a projected CRS in metres; scenes need one (e.g. a UTM zone such as EPSG:32631)"
            )
    else:
        left, bottom, right, top = ref.bounds
        xs, ys = transform(ref.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
        dst = CRS.from_user_input(utm_crs_for(xs[0], ys[0]))
    bounds = transform_bounds(ref.crs, dst, *ref.bounds, densify_pts=51)
    return aligned_grid(dst, bounds, TARGET_RESOLUTION), (
        f"10 m grid in {dst.to_string()} over the footprint of {reference.name}"
    )


# --------------------------------------------------------------------------------------------
# Warping


def _warp_band(path: Path, grid: Grid, out: np.ndarray, resampling: Any) -> str:
    """Fill ``out`` with the band of ``path`` on ``grid``; 0 where there is no data.

    Returns how the band was brought onto the grid ("copy" or the resampling name).
    """
    import rasterio
    from rasterio.warp import reproject

    with open_raster(path) as ds:
        src_nodata = ds.nodata if ds.nodata is not None else NODATA
        if not Grid.of(ds).differences(grid):
            data = ds.read(1)
            if src_nodata != NODATA:
                data[data == src_nodata] = NODATA
            out[...] = data
            return "copy"
        out[...] = NODATA
        reproject(
            source=rasterio.band(ds, 1),
            destination=out,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            src_nodata=src_nodata,
            dst_nodata=NODATA,
            resampling=resampling,
            num_threads=max(1, min(4, os.cpu_count() or 1)),
        )
        return str(resampling.name)


def write_date(
    date: str,
    files: dict[str, Path],
    grid: Grid,
    target: Path,
    stage: Path,
    add_offset: int,
    tags: dict[str, Any],
) -> tuple[np.ndarray, dict[str, str]]:
    """Warp the bands of one date and write its scene; return its validity and resamplings."""
    from rasterio.enums import Resampling

    bands = list(files)
    valid = np.ones((grid.height, grid.width), dtype=bool)
    staged: list[np.ndarray] = []
    how: dict[str, str] = {}
    for i, band in enumerate(bands, start=1):
        log.info(f"{date}: band {band} ({i}/{len(bands)}) from {files[band].name}")
        arr = np.memmap(
            stage / f"{date}_{band}.u16",
            dtype=np.uint16,
            mode="w+",
            shape=(grid.height, grid.width),
        )
        how[band] = _warp_band(files[band], grid, arr, Resampling.bilinear)
        valid &= arr != NODATA
        staged.append(arr)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise SentinelError(
            f"the {date} scene has no valid pixel on the target grid ({grid.describe()}): every "
            "pixel is nodata in at least one band. Check that the files cover the same area as "
            "the reference and are not empty."
        )
    with scene_writer(target, grid, bands, tags=tags) as writer:
        for window in block_windows(grid, rows=STRIP_ROWS):
            rows = slice(window.row_off, window.row_off + window.height)
            ok = valid[rows]
            block = np.empty((len(bands), window.height, grid.width), dtype=np.uint16)
            for k, band_data in enumerate(staged):
                strip = np.asarray(band_data[rows])
                if add_offset:
                    strip = np.clip(strip.astype(np.int32) + add_offset, 1, 65535).astype(np.uint16)
                block[k] = np.where(ok, strip, NODATA)
            writer.write(block, window=window)
    del staged, arr
    for band in bands:  # free the staging disk space before the next date
        (stage / f"{date}_{band}.u16").unlink(missing_ok=True)
    return valid, how


def warp_mask(path: Path, grid: Grid) -> tuple[np.ndarray, dict[str, Any]]:
    """A mask file warped (nearest) onto ``grid``: 0/1, 255 outside its footprint."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    with open_raster(path) as ds:
        if ds.count != 1:
            raise SentinelError(f"{path}: a mask has one band, got {ds.count}")
        if ds.crs is None:
            raise SentinelError(
                f"{path}: the mask is not georeferenced (no CRS); give it the CRS and transform "
                "of the scene it was drawn on (e.g. `gdal_edit.py -a_srs ... -a_ullr ...`)"
            )
        if not np.issubdtype(np.dtype(ds.dtypes[0]), np.integer):
            raise SentinelError(f"{path}: a mask holds integer classes, got {ds.dtypes[0]}")
        info = {
            "path": str(path),
            "crs": ds.crs.to_string(),
            "size": [ds.width, ds.height],
            "resampling": "nearest",
        }
        out = np.full((grid.height, grid.width), MASK_UNKNOWN, dtype=np.dtype(ds.dtypes[0]))
        if not Grid.of(ds).differences(grid):
            out[...] = ds.read(1)
            info["resampling"] = "copy"
        else:
            reproject(
                source=rasterio.band(ds, 1),
                destination=out,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                src_nodata=ds.nodata,
                dst_nodata=MASK_UNKNOWN,
                resampling=Resampling.nearest,
            )
        if ds.nodata is not None and ds.nodata != MASK_UNKNOWN:
            out[out == ds.nodata] = MASK_UNKNOWN
    values = np.unique(out)
    bad = sorted(set(values.tolist()) - {0, 1, MASK_UNKNOWN})
    if bad:
        raise SentinelError(
            f"{path}: mask values {bad[:10]} are not allowed; masks use 0 = no loss, 1 = loss, {MASK_UNKNOWN} = unknown"
        )
    return out.astype(np.uint8), info
