"""PNG quicklooks: decimated reads of scenes and masks, stretched and laid side by side.

Reads go through GDAL overviews (``out_shape``), so a quicklook of a 8192 px scene costs a few
megabytes, not the full raster.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN
from planet_sentinel.raster import atomic_path, band_indexes, open_raster

#: Mask colours: no loss (dark grey), loss (red), unknown (light blue).
MASK_COLOURS = {0: (40, 40, 40), 1: (230, 30, 30), MASK_UNKNOWN: (150, 200, 255)}
#: Probability ramp, 0 %, 50 % and 100 %: the no-loss grey through yellow to red.
PROBABILITY_STOPS = (MASK_COLOURS[0], (250, 220, 60), (220, 20, 20))


def _out_shape(height: int, width: int, max_size: int) -> tuple[int, int]:
    scale = max(height, width) / max_size
    if scale <= 1:
        return height, width
    return max(1, round(height / scale)), max(1, round(width / scale))


def true_colour(
    path: str | Path,
    max_size: int = 768,
    bands: Sequence[str] = ("B04", "B03", "B02"),
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """An 8-bit RGB array of a scene: 2-98 % stretch over valid pixels, mild gamma.

    ``names``: the scene's band names when the caller has them (a stated order for a file
    without band descriptions); otherwise read from the descriptions.
    """
    with open_raster(path) as ds:
        idx = band_indexes(ds, bands, names)
        shape = _out_shape(ds.height, ds.width, max_size)
        data = ds.read(idx, out_shape=(len(idx), *shape)).astype(np.float32)
        nodata = ds.nodata
    valid = np.all(data != nodata, axis=0) if nodata is not None else np.ones(shape, bool)
    rgb = np.zeros((*shape, 3), np.uint8)
    if valid.any():
        lo, hi = np.percentile(data[:, valid], [2, 98])
        scaled = np.clip((data - lo) / max(hi - lo, 1.0), 0, 1) ** (1 / 1.4)
        rgb = (np.moveaxis(scaled, 0, -1) * 255).astype(np.uint8)
        rgb[~valid] = 0
    return rgb


def mask_colour(path: str | Path, max_size: int = 768) -> np.ndarray:
    """An 8-bit RGB rendering of a change mask (nearest-neighbour decimation)."""
    with open_raster(path) as ds:
        shape = _out_shape(ds.height, ds.width, max_size)
        mask = ds.read(1, out_shape=shape)
    return colourise_mask(mask)


def colourise_mask(mask: np.ndarray) -> np.ndarray:
    rgb = np.zeros((*mask.shape, 3), np.uint8)
    for value, colour in MASK_COLOURS.items():
        rgb[mask == value] = colour
    return rgb


def colourise_probability(percent: np.ndarray, unknown: int) -> np.ndarray:
    """uint8 percent -> RGB along :data:`PROBABILITY_STOPS`; ``unknown`` pixels get the mask's unknown colour."""
    p = np.clip(percent.astype(np.float32), 0, 100) / 100.0
    stops = np.array(PROBABILITY_STOPS, np.float32)
    lo = np.where(p[..., None] < 0.5, stops[0], stops[1])
    hi = np.where(p[..., None] < 0.5, stops[1], stops[2])
    t = np.where(p < 0.5, p * 2, (p - 0.5) * 2)[..., None]
    rgb: np.ndarray = (lo + (hi - lo) * t).astype(np.uint8)
    rgb[percent == unknown] = MASK_COLOURS[MASK_UNKNOWN]
    return rgb


def overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blend loss (red) and unknown (blue) over an RGB image, for label review."""
    out = rgb.astype(np.float32)
    for value in (1, MASK_UNKNOWN):
        sel = mask == value
        out[sel] = (1 - alpha) * out[sel] + alpha * np.array(MASK_COLOURS[value], np.float32)
    return out.astype(np.uint8)


def save_panels(target: str | Path, panels: Sequence[np.ndarray], titles: Sequence[str]) -> Path:
    """Lay RGB panels side by side with titles and write a PNG atomically."""
    from PIL import Image, ImageDraw

    height = max(p.shape[0] for p in panels)
    gap, header = 8, 22
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = Image.new("RGB", (width, height + header), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = 0
    for panel, title in zip(panels, titles, strict=True):
        canvas.paste(Image.fromarray(panel), (x, header))
        draw.text((x + 4, 4), title, fill=(0, 0, 0))
        x += panel.shape[1] + gap
    with atomic_path(target, suffix=".png") as tmp:
        canvas.save(tmp, format="PNG")
    return Path(target)


def scene_quicklook(
    target: str | Path, before: str | Path, after: str | Path, mask: str | Path | None, max_size: int = 768
) -> Path:
    """The standard quicklook: true colour before | after | mask."""
    panels = [true_colour(before, max_size), true_colour(after, max_size)]
    titles = ["before (true colour)", "after (true colour)"]
    if mask is not None:
        panels.append(mask_colour(mask, max_size))
        titles.append("loss mask: red loss, blue unknown")
    return save_panels(target, panels, titles)
