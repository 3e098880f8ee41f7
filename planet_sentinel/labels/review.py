"""Review of a mask against its scenes: one grid, mask classes only, class balance, loss patches, a PNG."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder
from planet_sentinel.errors import SentinelError
from planet_sentinel.labels.summary import EIGHT_CONNECTED, LOSS, NO_LOSS, ClassCounts, class_counts, pixel_area_ha
from planet_sentinel.raster import check_mask, check_scene_pair, open_raster

#: Patch-size classes (ha) in the check report.
_SIZE_BINS_HA = (0.0, 0.5, 1.0, 5.0, 10.0, 50.0, math.inf)


class PatchStats(TypedDict):
    """Loss patches (8-connected): how many, their total and size distribution in hectares."""

    count: int
    total_ha: float
    size_ha: dict[str, float] | None
    size_classes_ha: dict[str, int]
    single_pixel_patches: NotRequired[int]


@dataclass
class LabelReport:
    """Review of a mask against its scenes: grid, class balance, loss patches."""

    before: Path
    after: Path
    mask: Path
    grid: str
    bands: list[str]
    pixel_area_ha: float
    classes: ClassCounts
    patches: PatchStats
    png: Path | None
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("before", "after", "mask", "png"):
            d[key] = str(d[key]) if d[key] is not None else None
        return d


def patch_stats(mask: np.ndarray, px_ha: float) -> PatchStats:
    """The loss patches of a mask array and their sizes at ``px_ha`` hectares a pixel."""
    from scipy import ndimage

    labels, n = ndimage.label(mask == LOSS, structure=EIGHT_CONNECTED)
    if n == 0:
        return {"count": 0, "total_ha": 0.0, "size_ha": None, "size_classes_ha": {}}
    sizes_px = np.bincount(labels.ravel())[1:]
    del labels
    sizes = sizes_px * px_ha
    classes = {}
    for lo, hi in zip(_SIZE_BINS_HA[:-1], _SIZE_BINS_HA[1:], strict=True):
        key = f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">={lo:g}"
        classes[key] = int(np.count_nonzero((sizes >= lo) & (sizes < hi)))
    return {
        "count": int(n),
        "total_ha": round(float(sizes.sum()), 4),
        "size_ha": {
            "min": round(float(sizes.min()), 4),
            "median": round(float(np.median(sizes)), 4),
            "mean": round(float(sizes.mean()), 4),
            "p90": round(float(np.percentile(sizes, 90)), 4),
            "max": round(float(sizes.max()), 4),
        },
        "size_classes_ha": classes,
        "single_pixel_patches": int(np.count_nonzero(sizes_px == 1)),
    }


def _warnings(classes: ClassCounts, patches: PatchStats) -> list[str]:
    """What a reviewer should look at before the mask is used for training."""
    warnings = []
    if classes["loss"] == 0:
        warnings.append("no loss pixel: the mask teaches the model nothing about loss")
    if classes["unknown_share"] > 0.5:
        warnings.append(f"{classes['unknown_share']:.0%} of pixels are unknown")
    if 0 < classes["loss_share_of_known"] < 0.001:
        warnings.append("loss is under 0.1 % of labelled pixels: expect a hard, imbalanced task")
    below_mmu = patches["size_classes_ha"].get("0-0.5", 0)
    if below_mmu:
        warnings.append(f"{below_mmu} of {patches['count']} loss patches are below the 0.5 ha minimum mapping unit")
    if patches["count"] and patches.get("single_pixel_patches", 0) > patches["count"] / 2:
        warnings.append("most loss patches are single pixels: check for speckle (apply an MMU)")
    return warnings


def _quicklook(png: Path, before: Path, after: Path, mask: Path, bands: tuple[str, ...]) -> None:
    """before | after | after with the mask overlaid, as one PNG."""
    from planet_sentinel.quicklook import overlay, save_panels, true_colour

    rgb_before = true_colour(before, names=bands)
    rgb_after = true_colour(after, names=bands)
    with open_raster(mask) as ds:
        small = ds.read(1, out_shape=rgb_after.shape[:2])
    save_panels(
        png,
        [rgb_before, rgb_after, overlay(rgb_after, small)],
        ["before", "after", "after + mask (red loss, blue unknown)"],
    )


def check_labels(
    before: Path, after: Path, mask: Path, png: Path | None = None, order: BandOrder | None = None
) -> LabelReport:
    """Check a mask against its scenes and summarise it for review.

    Verifies that before, after and mask share one grid (naming every difference otherwise),
    that the scenes have the same bands and the mask holds only 0/1/255; reports the class
    balance, the loss patches (8-connected) and their sizes in hectares; and writes a PNG
    (before | after | after with the mask overlaid) when ``png`` is given.
    """
    before, after, mask = Path(before), Path(after), Path(mask)
    grid, bands = check_scene_pair(before, after, order)
    check_mask(mask, grid)
    with open_raster(mask) as ds:
        data = ds.read(1)
    counts = np.bincount(data.ravel(), minlength=256)
    other = [v for v in np.nonzero(counts)[0].tolist() if v not in (NO_LOSS, LOSS, MASK_UNKNOWN)]
    if other:
        raise SentinelError(f"{mask}: values {other[:10]} are not mask classes (0 no loss, 1 loss, 255 unknown)")
    px_ha = pixel_area_ha(grid)
    classes = class_counts(counts)
    patches = patch_stats(data, px_ha)
    del data
    if png is not None:
        _quicklook(Path(png), before, after, mask, bands)
    return LabelReport(
        before=before,
        after=after,
        mask=mask,
        grid=grid.describe(),
        bands=list(bands),
        pixel_area_ha=px_ha,
        classes=classes,
        patches=patches,
        png=Path(png) if png is not None else None,
        warnings=_warnings(classes, patches),
    )
