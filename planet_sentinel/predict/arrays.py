"""Tiled prediction of a scene pair held in memory (the MLflow pyfunc, tests, small scenes).

The same tiling and batch core as :func:`planet_sentinel.predict.predict_scene`; only where the
windows come from (arrays, not COGs) and go to (one array) differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.clouds import CloudScreen
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.batch import input_bands, select_bands
from planet_sentinel.predict.config import DEFAULT_BATCH_SIZE, DEFAULT_OVERLAP
from planet_sentinel.predict.tiling import Tile, iter_tiles, plan_tiles, resolve_window

if TYPE_CHECKING:
    import torch

    from planet_sentinel.predict.engines import Model


def predict_arrays(
    bundle: Model,
    before: np.ndarray,
    after: np.ndarray,
    bands: Sequence[str],
    window: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
) -> np.ndarray:
    """Tiled prediction of an in-memory scene pair: (H, W) float32 probability, NaN where unknown.

    Args:
        bundle: the model bundle.
        before, after: (bands, H, W) uint16 reflectance x10000, nodata 0, on one grid.
        bands: band names of the first axis (the bundle's bands are selected by name).
        window: window side (default max(chip size, 512), capped to the scene).
        overlap: pixels shared by neighbouring windows; ``overlap // 2`` is cropped from each.
        batch_size: windows per forward pass.
        device: torch device (default CUDA if available, else CPU).
        screen: cloud screen (True: default; False: none; or a :class:`CloudScreen`).

    The bundle's model is moved to ``device`` and used in eval mode (its mode is restored).
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.ndim != 3 or before.shape != after.shape:
        raise SentinelError(f"before {before.shape} and after {after.shape} must be equal (bands, H, W) arrays")
    if len(bands) != before.shape[0]:
        raise SentinelError(f"{len(bands)} band names for {before.shape[0]} bands")
    wanted = input_bands(bundle, screen)
    idx = select_bands(bands, wanted, "scene")
    _, height, width = before.shape
    win = resolve_window(bundle, window, height, width, overlap)
    tiles = plan_tiles(height, width, win, overlap)

    def read(t: Tile) -> tuple[np.ndarray, np.ndarray]:
        sl = (idx, slice(t.row, t.row + t.height), slice(t.col, t.col + t.width))
        return before[sl], after[sl]

    out = np.full((height, width), np.nan, np.float32)
    for item in iter_tiles(bundle, tiles, read, wanted, batch_size, device, screen):
        out[item.tile.target] = item.probability
    return out
