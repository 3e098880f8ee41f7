"""What every mask writer shares: the mask classes, pixel area, class counts and the summary it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, NODATA
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid, block_windows, mask_writer

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from rasterio.windows import Window

LOSS = 1
NO_LOSS = 0
#: Rows per strip for windowed reads and writes (full width).
STRIP_ROWS = 512
#: 8-connectivity for loss patches.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class ClassCounts(TypedDict):
    """Pixels per mask class and their shares (of all pixels, and loss of the labelled ones)."""

    pixels: int
    loss: int
    no_loss: int
    unknown: int
    loss_share: float
    no_loss_share: float
    unknown_share: float
    loss_share_of_known: float


def pixel_area_ha(grid: Grid) -> float:
    """Area of one pixel in hectares (the CRS must be projected)."""
    if grid.crs is None or not grid.crs.is_projected:
        raise SentinelError(f"cannot measure pixel area in {grid.crs}: scenes must be in a projected CRS")
    factor = grid.crs.linear_units_factor[1]
    xres, yres = grid.resolution
    return float(xres * yres * factor * factor / 10_000)


def class_counts(counts: np.ndarray) -> ClassCounts:
    """The classes of a 256-bin histogram of mask values."""
    total = int(counts.sum())
    loss, no_loss, unknown = int(counts[LOSS]), int(counts[NO_LOSS]), int(counts[MASK_UNKNOWN])
    known = loss + no_loss
    return {
        "pixels": total,
        "loss": loss,
        "no_loss": no_loss,
        "unknown": unknown,
        "loss_share": loss / total if total else 0.0,
        "no_loss_share": no_loss / total if total else 0.0,
        "unknown_share": unknown / total if total else 0.0,
        "loss_share_of_known": loss / known if known else 0.0,
    }


@dataclass
class LabelSummary:
    """What a mask writer produced."""

    mask: Path
    method: str
    grid: str
    pixels: int
    loss: int
    no_loss: int
    unknown: int
    loss_share: float
    unknown_share: float
    loss_ha: float
    params: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mask"] = str(self.mask)
        return d


def summarise(
    out: Path, method: str, grid: Grid, counts: np.ndarray, params: dict[str, object], notes: list[str]
) -> LabelSummary:
    """The summary of a mask written to ``out`` whose value histogram is ``counts``."""
    c = class_counts(counts)
    return LabelSummary(
        mask=out,
        method=method,
        grid=grid.describe(),
        pixels=c["pixels"],
        loss=c["loss"],
        no_loss=c["no_loss"],
        unknown=c["unknown"],
        loss_share=c["loss_share"],
        unknown_share=c["unknown_share"],
        loss_ha=c["loss"] * pixel_area_ha(grid),
        params=params,
        notes=notes,
    )


def nodata_pixels(ds: DatasetReader, window: Window) -> np.ndarray:
    """Pixels of a window that are nodata in any band of a scene."""
    return nodata_of(ds.read(window=window), ds)


def nodata_of(data: np.ndarray, ds: DatasetReader) -> np.ndarray:
    """Pixels of a (bands, rows, cols) read of ``ds`` that are nodata in any band."""
    nodata = ds.nodata if ds.nodata is not None else NODATA
    missing: np.ndarray = np.any(data == nodata, axis=0)
    return missing


def write_mask(out: Path, grid: Grid, mask: np.ndarray, tags: dict[str, object]) -> None:
    """Write a whole-scene mask array as a COG, strip by strip."""
    with mask_writer(out, grid, tags=tags) as writer:
        for window in block_windows(grid, rows=STRIP_ROWS):
            writer.write(mask[window.row_off : window.row_off + window.height], window=window)
