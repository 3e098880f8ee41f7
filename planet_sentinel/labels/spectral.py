"""Pseudo-labels from spectral change: forest before, NDVI and NBR drops after, a minimum mapping unit.

A bootstrap for analysts to correct (docs/labeling.md, section 5), not ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder
from planet_sentinel.labels.config import LabelConfig, SpectralOverrides
from planet_sentinel.labels.summary import (
    EIGHT_CONNECTED,
    LOSS,
    NO_LOSS,
    STRIP_ROWS,
    LabelSummary,
    nodata_of,
    pixel_area_ha,
    summarise,
    write_mask,
)
from planet_sentinel.raster import Grid, band_indexes, block_windows, check_scene_pair, open_raster, refuse_existing

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

#: The bands the indices need, in the order :func:`_change_strip` reads them.
_INDEX_BANDS = ("B04", "B08", "B12")


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised difference (a - b) / (a + b), 0 where the sum is 0."""
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (a - b) / np.where(total > 0, total, 1), 0.0)


def _change_strip(
    b_all: np.ndarray,
    a_all: np.ndarray,
    b_ds: DatasetReader,
    a_ds: DatasetReader,
    b_idx: list[int],
    a_idx: list[int],
    cfg: LabelConfig,
) -> np.ndarray:
    """One strip of the change map from every band of both dates (nodata is any band's)."""
    invalid = nodata_of(b_all, b_ds) | nodata_of(a_all, a_ds)
    bb = b_all[b_idx].astype(np.float32)
    aa = a_all[a_idx].astype(np.float32)
    ndvi_b, ndvi_a = normalised_difference(bb[1], bb[0]), normalised_difference(aa[1], aa[0])
    nbr_b, nbr_a = normalised_difference(bb[1], bb[2]), normalised_difference(aa[1], aa[2])
    forest = ndvi_b >= cfg.forest_ndvi
    change = forest & (ndvi_b - ndvi_a >= cfg.ndvi_drop) & (nbr_b - nbr_a >= cfg.nbr_drop) & ~invalid
    strip = np.where(change, LOSS, NO_LOSS).astype(np.uint8)
    strip[invalid] = MASK_UNKNOWN
    return strip


def change_map(before: Path, after: Path, grid: Grid, bands: tuple[str, ...], cfg: LabelConfig) -> np.ndarray:
    """The whole-scene uint8 change map (before the MMU), read strip by strip."""
    mask = np.empty((grid.height, grid.width), dtype=np.uint8)
    with open_raster(before) as b_ds, open_raster(after) as a_ds:
        # Positions of B04, B08, B12 among the bands read (all bands: nodata is any band).
        b_idx = [i - 1 for i in band_indexes(b_ds, _INDEX_BANDS, bands)]
        a_idx = [i - 1 for i in band_indexes(a_ds, _INDEX_BANDS, bands)]
        for window in block_windows(grid, rows=STRIP_ROWS):
            rows = slice(window.row_off, window.row_off + window.height)
            b_all, a_all = b_ds.read(window=window), a_ds.read(window=window)
            mask[rows] = _change_strip(b_all, a_all, b_ds, a_ds, b_idx, a_idx, cfg)
    return mask


@dataclass(frozen=True)
class Sieve:
    """What the minimum mapping unit did to the change map."""

    min_pixels: int
    candidate_pixels: int
    patches_found: int
    patches_removed: int
    pixels_removed: int


def mmu_pixels(mmu_ha: float, px_ha: float) -> int:
    """The smallest loss patch kept, in pixels (1: keep every patch)."""
    return max(1, math.ceil(mmu_ha / px_ha - 1e-9)) if mmu_ha > 0 else 1


def sieve(mask: np.ndarray, min_pixels: int) -> Sieve:
    """Set loss patches (8-connected) under ``min_pixels`` to no loss, in place (labels: 4 bytes a pixel)."""
    from scipy import ndimage

    candidates = int(np.count_nonzero(mask == LOSS))
    labels, n_patches = ndimage.label(mask == LOSS, structure=EIGHT_CONNECTED)
    removed_patches = removed_px = 0
    if n_patches and min_pixels > 1:
        sizes = np.bincount(labels.ravel())
        small = sizes < min_pixels
        small[0] = False
        removed_patches = int(small.sum())
        removed_px = int(sizes[small].sum())
        mask[small[labels]] = NO_LOSS
    return Sieve(min_pixels, candidates, int(n_patches), removed_patches, removed_px)


def mask_from_spectral(
    before: Path,
    after: Path,
    out: Path,
    config: LabelConfig | None = None,
    *,
    overwrite: bool = False,
    order: BandOrder | None = None,
    **overrides: Unpack[SpectralOverrides],
) -> LabelSummary:
    """Pseudo-labels from spectral change: forest before, NDVI and NBR drops after.

    ``config`` (default: :class:`LabelConfig`'s defaults) holds the thresholds; ``overrides``
    replace its fields for this call (None keeps the config's). ``order``: the band order the user
    stated, for scenes without band descriptions.

    A pixel is loss when the before NDVI is at least ``forest_ndvi`` (forest), NDVI dropped by at
    least ``ndvi_drop`` and NBR (B08, B12) by at least ``nbr_drop``; loss patches
    (8-connected) smaller than ``mmu_ha`` hectares are removed; pixels that are nodata in either
    scene are 255. A bootstrap for analysts to correct, not ground truth.
    """
    before, after, out = Path(before), Path(after), Path(out)
    refuse_existing([out], overwrite)
    cfg = (config or LabelConfig()).with_overrides(overrides)
    grid, bands = check_scene_pair(before, after, order)
    min_pixels = mmu_pixels(cfg.mmu_ha, pixel_area_ha(grid))  # a geographic CRS fails here, before reading
    mask = change_map(before, after, grid, bands, cfg)
    sieved = sieve(mask, min_pixels)
    counts = np.bincount(mask.ravel(), minlength=256)
    thresholds = {
        "ndvi_drop": cfg.ndvi_drop,
        "nbr_drop": cfg.nbr_drop,
        "forest_ndvi": cfg.forest_ndvi,
        "mmu_ha": cfg.mmu_ha,
    }
    write_mask(out, grid, mask, {"method": "spectral", **thresholds})
    params: dict[str, object] = {
        "before": str(before),
        "after": str(after),
        **thresholds,
        "mmu_pixels": sieved.min_pixels,
        "candidate_pixels": sieved.candidate_pixels,
        "patches_found": sieved.patches_found,
        "patches_removed_by_mmu": sieved.patches_removed,
        "pixels_removed_by_mmu": sieved.pixels_removed,
    }
    notes = ["pseudo-labels: review and correct them before training (docs/labeling.md)"]
    return summarise(out, "spectral", grid, counts, params, notes)
