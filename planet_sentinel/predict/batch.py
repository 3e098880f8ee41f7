"""The core every caller shares: change probabilities of one batch of equally sized windows.

Unknown pixels (nodata on either date, cloud or shadow on either date) come back as NaN, so the
CLI, the service, evaluation and the drift monitor all mark the same pixels unknown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.bands import band_positions, canonical, missing_bands
from planet_sentinel.clouds import SCREEN_BANDS, CloudScreen, cloud_mask
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import nodata_pixels

if TYPE_CHECKING:
    import torch

    from planet_sentinel.predict.engines import Model


def select_bands(bands: Sequence[str], wanted: Sequence[str], what: str) -> list[int]:
    """Indexes of ``wanted`` in ``bands`` (names canonicalised); missing ones are a clear error."""
    names = [canonical(b) for b in bands]
    return band_positions(wanted, names, lambda missing: f"{what}: bands {missing} missing; the input has {names}")


def input_bands(bundle: Model, screen: CloudScreen | bool) -> list[str]:
    """The model's bands, then the extra bands the cloud screen reads."""
    bands = list(bundle.bands)
    if screen is not False:
        bands += missing_bands(SCREEN_BANDS, bands)
    return bands


def unknown_pixels(
    before: np.ndarray, after: np.ndarray, bands: Sequence[str], screen: CloudScreen | None | bool = True
) -> np.ndarray:
    """(H, W) True where a pixel is nodata (any band 0) or clouded/shadowed on either date.

    ``screen``: True for the default cloud screen, a :class:`CloudScreen`, or False/None for
    none (inputs that are cloud-masked already).
    """
    unknown: np.ndarray = nodata_pixels(before, after)
    if screen is not False and screen is not None:
        params = screen if isinstance(screen, CloudScreen) else None
        unknown |= cloud_mask(before, bands, params) | cloud_mask(after, bands, params)
    return unknown


def _pad_to(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Pad the last two axes up to (rows, cols) by reflection."""
    pr, pc = rows - x.shape[-2], cols - x.shape[-1]
    if pr == 0 and pc == 0:
        return x
    pad = [(0, 0)] * (x.ndim - 2) + [(0, pr), (0, pc)]
    padded: np.ndarray = np.pad(x, pad, mode="reflect") if min(x.shape[-2:]) > 1 else np.pad(x, pad, mode="edge")
    return padded


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready for the engine: the model's bands as float32, padded to the model's multiple,
    and the unknown pixels (nodata, cloud, shadow) of the unpadded windows."""

    before: np.ndarray
    after: np.ndarray
    unknown: np.ndarray
    height: int
    width: int


def prepare_batch(
    bundle: Model, before: np.ndarray, after: np.ndarray, bands: Sequence[str], screen: CloudScreen | bool = True
) -> PreparedBatch:
    """Everything before the forward pass (checks, cloud screen, band selection, padding): the part
    :func:`planet_sentinel.predict.tiling.iter_tiles` runs on its reader thread, beside the engine."""
    if before.shape != after.shape or before.ndim != 4:
        raise SentinelError(f"before {before.shape} and after {after.shape} must be equal (N, bands, H, W) arrays")
    idx = select_bands(bands, bundle.bands, "model input")
    n, _, h, w = before.shape
    unknown = np.stack([unknown_pixels(before[i], after[i], bands, screen) for i in range(n)])
    m = bundle.multiple
    hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
    xb = _pad_to(before[:, idx].astype(np.float32), hp, wp)
    xa = _pad_to(after[:, idx].astype(np.float32), hp, wp)
    return PreparedBatch(xb, xa, unknown, h, w)


def run_prepared(bundle: Model, batch: PreparedBatch, device: str | torch.device | None = None) -> np.ndarray:
    """The engine's forward of a prepared batch: (N, H, W) float32 probabilities, NaN where unknown."""
    prob = bundle.probabilities(batch.before, batch.after, device)[:, : batch.height, : batch.width]
    prob = np.ascontiguousarray(prob, dtype=np.float32)
    prob[batch.unknown] = np.nan
    return prob


def predict_batch(
    bundle: Model,
    before: np.ndarray,
    after: np.ndarray,
    bands: Sequence[str],
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
) -> np.ndarray:
    """Change probabilities of a batch of equally sized windows, NaN where unknown.

    Args:
        bundle: the model (either engine) and its band list.
        before, after: (N, bands, H, W) uint16 reflectance x10000, nodata 0.
        bands: band names of the second axis; the bundle's bands are selected by name.
        device: torch device of the PyTorch engine (default: CUDA if available, else CPU).
        screen: cloud screen (True: default; False: none; or a :class:`CloudScreen`).

    Returns:
        (N, H, W) float32 probabilities; windows whose sides are not a multiple of the model's
        are padded by reflection and cropped back.
    """
    return run_prepared(bundle, prepare_batch(bundle, before, after, bands, screen), device)
