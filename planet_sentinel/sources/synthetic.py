"""Realistic simulated Sentinel-2 L2A scene pairs: the embedded default source, fully offline.

A scene pair is drawn in three steps, each from its own random stream of one seed:

1. **Land cover** (:func:`land_cover`): an Amazon colonisation frontier at 10 m. Dense forest,
   a meandering river with sand banks and a tributary, a main road with side roads at right
   angles (the "fishbone"), parcels cleared back from the roads to pasture, bare soil or
   regrowth, and a riparian buffer that is left standing. The after date adds forest loss:
   parcels cleared deeper, new blocky pasture conversions, extended side roads with their first
   clearings, and clusters of selective-logging gaps with skid trails and log decks. It also adds
   changes that are *not* deforestation: parcels switching between pasture and bare soil, pasture
   fires and a different river level.
2. **Reflectance**: per-class Level-2A spectra with canopy and field textures, terrain
   illumination, a sensor point-spread function and, per date, a seasonal (phenology/illumination)
   shift, haze strongest in blue, clouds with soft edges and their offset shadows, sensor noise,
   a sub-pixel misregistration of the after image, an optional swath edge (nodata) and an optional
   radiometric gain drift.
3. **Mask**: 1 where primary forest became non-forest, 0 elsewhere, 255 where either date is
   hidden by a cloud or its shadow or has no data.

Everything is computed band by band on whole float32 arrays with reused buffers, so a
8192 x 8192 pair fits in a few gigabytes; smooth fields are drawn at coarse resolution and
upsampled. The same seed always gives byte-identical pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from planet_sentinel.bands import DEFAULT_BANDS, MASK_UNKNOWN, NODATA, REFLECTANCE_SCALE
from planet_sentinel.raster import (
    Grid,
    mask_writer,
    refuse_existing,
    scene_writer,
    utm_crs_for,
    write_text_atomic,
)

GENERATOR = "planet_sentinel.synthetic"
PIXEL_SIZE = 10
MAX_SIZE = 8192
BEFORE_DATE = "2024-07-15"
AFTER_DATE = "2025-07-20"
#: Cloud opacity (and shadow strength) above which the ground counts as hidden (mask 255).
HIDDEN_THRESHOLD = 0.3


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


class SimulationConfig(BaseModel):
    """Knobs of the simulated scene pair.

    ``difficulty`` sets every nuisance at once; each explicit override left at None is derived
    from it (see :meth:`resolved`). The drift knobs (``gain``, ``season_shift``,
    ``forest_fraction``, ``deforestation_rate``) let the drift monitor produce shifted data.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field("demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """Scene name: outputs are ``<name>_before.tif`` and so on."""
    size: int = Field(2048, ge=256, le=MAX_SIZE)
    """Width and height in 10 m pixels (2048 = 20.48 km; memory grows with size squared)."""
    seed: int = Field(7, ge=0)
    """Random seed: the same seed and knobs always give byte-identical pixels."""
    difficulty: float = Field(0.3, ge=0.0, le=1.0)
    """0 = clean pair, 1 = cloudy, hazy, noisy, misregistered; sets the overrides left at None."""
    cloud_cover: float | None = Field(None, ge=0.0, le=0.6)
    """Fraction of the after image under cloud (the before image gets half); 0.2 x difficulty."""
    haze: float | None = Field(None, ge=0.0, le=1.0)
    """Haze strength 0..1 on the after image (half on the before); 0.7 x difficulty."""
    misregistration_px: float | None = Field(None, ge=0.0, le=3.0)
    """Shift of the after image against the before, in pixels; 0.1 + 1.1 x difficulty."""
    noise: float | None = Field(None, ge=0.0, le=300.0)
    """Sensor noise standard deviation in reflectance units (x10000); 8 + 50 x difficulty."""
    phenology: float | None = Field(None, ge=0.0, le=1.0)
    """Strength of the seasonal/illumination difference between the dates; 0.15 + 0.85 x d."""
    swath_edge: float | None = Field(None, ge=0.0, le=0.5)
    """Fraction of the after image outside the orbit swath (nodata); 0.25 x max(0, d - 0.6)."""
    gain: float = Field(1.0, ge=0.25, le=4.0)
    """Drift: multiplicative radiometric gain applied to the whole after image."""
    season_shift: float = Field(0.0, ge=-1.0, le=1.0)
    """Drift: extra seasonal shift of the after date, -1 driest .. +1 wettest (0 = same season)."""
    forest_fraction: float = Field(0.65, ge=0.05, le=0.95)
    """Approximate share of primary forest in the before land cover (limited by the roads)."""
    deforestation_rate: float | None = Field(None, ge=0.0, le=0.5)
    """Share of the before forest cleared by the after date; 0.05 / forest_fraction (~5 % loss)."""
    centre_lon: float = Field(-62.85, ge=-180.0, le=180.0)
    """Scene centre longitude (WGS 84); the default lies in Rondonia, Brazil."""
    centre_lat: float = Field(-9.90, ge=-80.0, le=84.0)
    """Scene centre latitude (WGS 84); sets the UTM zone of the grid."""
    pixel_size: Literal[10] = PIXEL_SIZE
    """Pixel size in metres: fixed at Sentinel-2's 10 m."""

    def resolved(self) -> SimulationConfig:
        """A copy with every override that is None derived from ``difficulty``."""
        d = self.difficulty
        derived = {
            "cloud_cover": 0.2 * d,
            "haze": 0.7 * d,
            "misregistration_px": 0.1 + 1.1 * d,
            "noise": 8.0 + 50.0 * d,
            "phenology": 0.15 + 0.85 * d,
            "swath_edge": 0.25 * max(0.0, d - 0.6),
            "deforestation_rate": min(0.5, 0.05 / self.forest_fraction),
        }
        update = {k: round(v, 6) for k, v in derived.items() if getattr(self, k) is None}
        return self.model_copy(update=update)


@dataclass
class SimulatedScene:
    """The files written by :func:`simulate_scene` and the summary statistics."""

    before: Path
    after: Path
    mask: Path
    quicklook: Path
    summary_json: Path
    stats: dict[str, Any] = field(default_factory=dict)


def output_paths(name: str, out_dir: str | Path) -> dict[str, Path]:
    """The five output paths of a simulated scene called ``name`` in ``out_dir``."""
    out = Path(out_dir)
    return {
        "before": out / f"{name}_before.tif",
        "after": out / f"{name}_after.tif",
        "mask": out / f"{name}_mask.tif",
        "quicklook": out / f"{name}_quicklook.png",
        "summary_json": out / f"{name}_simulation.json",
    }


def scene_grid(config: SimulationConfig) -> Grid:
    """The 10 m UTM grid centred on the configured point, origin snapped to whole 10 m."""
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import transform

    epsg = utm_crs_for(config.centre_lon, config.centre_lat)
    xs, ys = transform("EPSG:4326", epsg, [config.centre_lon], [config.centre_lat])
    half = config.size * PIXEL_SIZE / 2
    left = math.floor((xs[0] - half) / PIXEL_SIZE) * PIXEL_SIZE
    top = math.ceil((ys[0] + half) / PIXEL_SIZE) * PIXEL_SIZE
    return Grid(
        CRS.from_string(epsg),
        Affine(PIXEL_SIZE, 0.0, float(left), 0.0, -PIXEL_SIZE, float(top)),
        config.size,
        config.size,
    )


# --------------------------------------------------------------------------------------------
# Land-cover classes and their spectra
# --------------------------------------------------------------------------------------------


class LandClass(IntEnum):
    """Land-cover codes of :class:`LandCover` maps (0 is never used on land)."""

    NONE = 0
    FOREST = 1
    SECONDARY = 2
    PASTURE = 3
    BARE = 4
    WATER = 5
    ROAD = 6
    SAND = 7
    SLASH = 8
    BURN = 9
    EARLY_PASTURE = 10
    LOGGED = 11


CLASS_NAMES: tuple[str, ...] = (
    "none",
    "forest",
    "secondary_forest",
    "pasture",
    "bare_soil",
    "water",
    "road",
    "sand",
    "slash",
    "burn_scar",
    "early_pasture",
    "logging_gap",
)
N_CLASSES = len(CLASS_NAMES)

# Surface reflectance x10000 for B02 B03 B04 B08 B11 B12: base spectrum, the spectral direction of
# the class's variation field (canopy shadows, pasture dryness, soil moisture, turbidity) and the
# weights of fine (per-pixel) and medium (tens of pixels) texture in that variation field.
_SPECTRA: dict[LandClass, tuple[tuple[int, ...], tuple[int, ...], float, float]] = {
    LandClass.FOREST: ((230, 470, 270, 2950, 1380, 560), (35, 60, 45, 380, 160, 75), 1.0, 0.4),
    LandClass.SECONDARY: ((280, 560, 340, 3300, 1620, 720), (30, 55, 45, 300, 140, 70), 0.6, 0.5),
    LandClass.PASTURE: ((430, 740, 700, 2700, 2350, 1350), (110, 130, 280, -380, 380, 380), 0.3, 0.3),
    LandClass.BARE: ((950, 1250, 1600, 2250, 3150, 2600), (140, 170, 220, 220, 300, 300), 0.3, 0.6),
    LandClass.WATER: ((470, 620, 520, 110, 55, 35), (60, 90, 120, 35, 15, 10), 0.15, 0.6),
    LandClass.ROAD: ((1150, 1450, 1900, 2500, 3350, 2900), (90, 110, 150, 150, 200, 200), 0.4, 0.3),
    LandClass.SAND: ((1050, 1250, 1450, 1750, 2450, 1850), (150, 170, 200, 200, 250, 250), 0.3, 0.6),
    LandClass.SLASH: ((620, 860, 1080, 2100, 2800, 1950), (120, 140, 200, 300, 300, 300), 0.7, 0.5),
    LandClass.BURN: ((320, 420, 480, 1250, 1800, 1600), (60, 70, 90, 220, 220, 220), 0.5, 0.6),
    LandClass.EARLY_PASTURE: (
        (680, 930, 1100, 2450, 2850, 2000),
        (110, 130, 200, -250, 300, 300),
        0.4,
        0.5,
    ),
    LandClass.LOGGED: ((380, 620, 560, 2550, 1950, 1050), (60, 80, 90, 350, 200, 150), 0.8, 0.4),
}


def class_spectra() -> dict[str, dict[str, int]]:
    """Nominal surface reflectance (x10000) of each land-cover class, by band name."""
    return {CLASS_NAMES[c]: dict(zip(DEFAULT_BANDS, base, strict=True)) for c, (base, _, _, _) in _SPECTRA.items()}


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base = np.zeros((N_CLASSES, len(DEFAULT_BANDS)), np.float32)
    amp = np.zeros_like(base)
    fine = np.zeros(N_CLASSES, np.float32)
    med = np.zeros(N_CLASSES, np.float32)
    for c, (b, a, f, m) in _SPECTRA.items():
        base[c], amp[c], fine[c], med[c] = b, a, f, m
    return base, amp, fine, med


_PASTURE_LIKE = (LandClass.PASTURE, LandClass.EARLY_PASTURE)
_VEGETATION = (LandClass.FOREST, LandClass.SECONDARY, LandClass.LOGGED)
# Classes cleared forest becomes, with their probabilities.
_CLEARED = (LandClass.SLASH, LandClass.BURN, LandClass.BARE, LandClass.EARLY_PASTURE)
_CLEARED_P = (0.35, 0.25, 0.2, 0.2)
# Clouds (x10000) and the darkening of a full cloud shadow, per band.
_CLOUD = np.array([5600, 5450, 5300, 5650, 3900, 2700], np.float32)
_SHADOW_DARK = np.array([0.5, 0.56, 0.6, 0.7, 0.72, 0.72], np.float32)
# Additive haze per band at strength 1 (aerosol scattering falls with wavelength).
_HAZE = np.array([1000, 760, 560, 300, 90, 45], np.float32)
_NOISE_BAND = np.array([1.0, 0.9, 0.9, 0.8, 1.1, 1.3], np.float32)
_PSF_SIGMA = 0.55


# --------------------------------------------------------------------------------------------
# Random streams, fields and filters
# --------------------------------------------------------------------------------------------

_STREAMS = {
    "rivers": 1,
    "roads": 2,
    "lots": 3,
    "texture": 4,
    "events": 5,
    "changes": 6,
    "before": 7,
    "after": 8,
    "terrain": 9,
    "edges": 10,
}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS[stream],)))


def _coarse_noise(rng: np.random.Generator, n: int, factor: int, sigma_px: float) -> np.ndarray:
    """Unit-variance Gaussian-filtered noise on a grid ``factor`` times coarser than n x n."""
    m = n // factor + 3
    a = rng.standard_normal((m, m), dtype=np.float32)
    sigma = sigma_px / factor
    if sigma >= 0.3:
        a = ndimage.gaussian_filter(a, sigma, mode="wrap", truncate=3.0)
    a -= a.mean()
    a /= max(float(a.std()), 1e-6)
    return a


def _coords(m_out: int, f_out: int, f_in: int, full: bool) -> tuple[np.ndarray, np.ndarray]:
    """Index and weight of bilinear interpolation from a grid of factor f_in to f_out."""
    j = np.arange(m_out, dtype=np.float64)
    centre = j + 0.5 if full else (j - 0.5) * f_out
    x = centre / f_in + 0.5
    i0 = np.floor(x).astype(np.intp)
    return i0, (x - i0).astype(np.float32)


def _resample(
    src: np.ndarray, f_in: int, f_out: int, m_out: int, out: np.ndarray | None = None, full: bool = False
) -> np.ndarray:
    """Bilinear resampling of a coarse grid (factor f_in) to a finer one (or full resolution).

    Output rows are filled one coarse row interval at a time, so no temporary is larger than a
    row of the output.
    """
    i0, w = _coords(m_out, f_out, f_in, full)
    i0 = np.clip(i0, 0, src.shape[0] - 2)
    wc = 1 - w
    if out is None:
        out = np.empty((m_out, m_out), np.float32)
    starts = np.flatnonzero(np.diff(i0, prepend=-1))
    stops = np.append(starts[1:], m_out)
    row = np.empty(m_out, np.float32)
    cache: dict[int, np.ndarray] = {}

    def cols(k: int) -> np.ndarray:
        if k not in cache:
            if len(cache) > 2:
                cache.clear()
            r = src[k]
            cache[k] = (r[i0] * wc + r[i0 + 1] * w).astype(np.float32)
        return cache[k]

    for a, b in zip(starts, stops, strict=True):
        k = int(i0[a])
        c0, c1 = cols(k), cols(k + 1)
        np.subtract(c1, c0, out=row)
        np.multiply(row[None, :], w[a:b, None], out=out[a:b])
        out[a:b] += c0
    return out


def _fractal(
    rng: np.random.Generator,
    n: int,
    octaves: Sequence[tuple[float, float]],
    out: np.ndarray | None = None,
    factor: int | None = None,
) -> np.ndarray:
    """Sum of smooth noise octaves ``(scale_px, weight)``; full-resolution unless ``factor``.

    Each octave is drawn on a grid about a third of its scale, accumulated coarse to fine and
    upsampled once.
    """
    acc: np.ndarray | None = None
    acc_f = 0
    for scale, weight in sorted(octaves, key=lambda o: -o[0]):
        f = int(max(1, min(32, round(scale / 1.5))))
        if factor is not None:
            f = max(f, factor)
        layer = _coarse_noise(rng, n, f, scale) * np.float32(weight)
        if acc is None:
            acc, acc_f = layer, f
        elif f == acc_f:
            acc += layer
        else:
            acc = _resample(acc, acc_f, f, layer.shape[0]) + layer
            acc_f = f
    assert acc is not None
    norm = np.float32(1.0 / math.sqrt(sum(w * w for _, w in octaves)))
    acc *= norm
    if factor is not None:
        if acc_f == factor:
            return acc
        return _resample(acc, acc_f, factor, n // factor + 3)
    if acc_f == 1:
        if out is None:
            return acc[:n, :n].copy()
        out[...] = acc[:n, :n]
        return out
    return _resample(acc, acc_f, 1, n, out=out, full=True)


def _gauss_kernel(sigma: float, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Weights and offsets of a Gaussian whose correlation moves content by ``shift`` px."""
    radius = int(math.ceil(3.0 * sigma + abs(shift)))
    offsets = np.arange(-radius, radius + 1)
    w = np.exp(-((offsets + shift) ** 2) / (2 * sigma * sigma))
    w = (w / w.sum()).astype(np.float32)
    keep = w > 1e-4
    w = w[keep] / w[keep].sum()
    return w.astype(np.float32), offsets[keep]


def _filter_rows(src: np.ndarray, weights: np.ndarray, offsets: np.ndarray, out: np.ndarray, chunk: int = 256) -> None:
    """out[i] = sum_k w_k src[i + o_k] along axis 0 (edge rows repeated), in row chunks."""
    n = src.shape[0]
    tmp = np.empty((chunk, src.shape[1]), np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        acc, t = out[a:b], tmp[: b - a]
        for i, (w, o) in enumerate(zip(weights, offsets, strict=True)):
            lo, hi = a + int(o), b + int(o)
            s = src[lo:hi] if lo >= 0 and hi <= n else src[np.clip(np.arange(lo, hi), 0, n - 1)]
            if i == 0:
                np.multiply(s, w, out=acc)
            else:
                np.multiply(s, w, out=t)
                acc += t


def _blur_shift(a: np.ndarray, tmp: np.ndarray, sigma: float, dy: float = 0.0, dx: float = 0.0) -> None:
    """Gaussian blur of ``a`` in place that also moves its content by (dy, dx) pixels."""
    wx, ox = _gauss_kernel(sigma, dx)
    # correlate1d's origin-free weights are centred; pad to an odd symmetric support.
    span = int(max(abs(ox.min()), abs(ox.max())))
    full = np.zeros(2 * span + 1, np.float32)
    full[ox + span] = wx
    ndimage.correlate1d(a, full, axis=1, output=tmp, mode="nearest")
    wy, oy = _gauss_kernel(sigma, dy)
    _filter_rows(tmp, wy, oy, a)


def _max_filter(a: np.ndarray, radius: int) -> np.ndarray:
    """Square maximum filter by shifted slices (much faster than ndimage for small radii)."""
    out = a.copy()
    for axis in (0, 1):
        src = out.copy()
        for r in range(1, radius + 1):
            if axis == 0:
                np.maximum(out[r:], src[:-r], out=out[r:])
                np.maximum(out[:-r], src[r:], out=out[:-r])
            else:
                np.maximum(out[:, r:], src[:, :-r], out=out[:, r:])
                np.maximum(out[:, :-r], src[:, r:], out=out[:, :-r])
    return out


def _ragged(
    binary: np.ndarray, noise: np.ndarray, work: np.ndarray, tmp: np.ndarray, sigma: float = 1.3, amount: float = 0.25
) -> np.ndarray:
    """Roughen the outline of a binary map: blur, add correlated noise, threshold at 1/2."""
    np.copyto(work, binary, casting="unsafe")
    _blur_shift(work, tmp, sigma)
    np.multiply(noise, np.float32(amount), out=tmp)
    work += tmp
    return work > 0.5


def _texture(seed: int, n: int, fine: np.ndarray, medium: np.ndarray) -> None:
    """The ground's texture fields (identical on both dates): per-pixel and ~3-40 px."""
    rng = _rng(seed, "texture")
    chunk = 512
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        u = rng.integers(0, 256, (2, b - a, n), dtype=np.uint8)
        np.add(u[0], u[1], out=fine[a:b], dtype=np.float32)
    fine -= np.float32(255.0)
    fine *= np.float32(1 / 104.5)
    _fractal(rng, n, [(3.0, 0.8), (40.0, 0.4)], out=medium)


# --------------------------------------------------------------------------------------------
# Geometry: rivers, roads, parcels
# --------------------------------------------------------------------------------------------


def _smooth1d(rng: np.random.Generator, k: int, sigma: float) -> np.ndarray:
    pad = int(3 * sigma) + 1
    x = rng.standard_normal(k + 2 * pad)
    if sigma >= 0.5:
        x = ndimage.gaussian_filter1d(x, sigma)
    x = x[pad : pad + k]
    sd = float(x.std())
    return x / sd if sd > 0 else x


def _integrate(start: np.ndarray, heads: np.ndarray, step: float) -> np.ndarray:
    d = np.stack([np.cos(heads), np.sin(heads)], axis=1) * step
    pts = np.empty((len(heads), 2))
    pts[0] = start
    pts[1:] = start + np.cumsum(d[:-1], axis=0)
    return pts


def _road_path(
    rng: np.random.Generator,
    start: np.ndarray,
    theta: float,
    length: float,
    wiggle: float,
    scale: float,
    step: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    k = max(2, int(length / step))
    heads = theta + wiggle * _smooth1d(rng, k, scale / step)
    return _integrate(start, heads, step), heads


def _meander(
    rng: np.random.Generator, k: int, step: float, theta: float, w0: float, amp0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Heading and width of a meandering channel (sine-generated curve with drifting phase)."""
    lam = w0 * rng.uniform(11, 15) * (1 + 0.2 * _smooth1d(rng, k, 600 / step))
    phase = 2 * np.pi * np.cumsum(step / lam) + rng.uniform(0, 2 * np.pi)
    amp = amp0 * (1 + 0.3 * _smooth1d(rng, k, 300 / step))
    wander = 0.25 * _smooth1d(rng, k, 2500 / step)
    heads = theta + wander + np.clip(amp, 0.2, 1.3) * np.sin(phase)
    widths = w0 * np.clip(1 + 0.25 * _smooth1d(rng, k, 150 / step), 0.5, 1.8)
    return heads, widths


def _in_view(pts: np.ndarray, n: int, margin: float) -> bool:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return bool(hi[0] >= -margin and hi[1] >= -margin and lo[0] <= n + margin and lo[1] <= n + margin)


def _strip(pts: np.ndarray, widths: np.ndarray | float, n: int, chunk: int = 12) -> list[Any]:
    """A (variable-width) buffered polyline as shapely polygons, constant width per chunk."""
    from shapely import LineString

    w = np.broadcast_to(np.asarray(widths, dtype=float), (len(pts),))
    polys = []
    for a in range(0, len(pts) - 1, chunk):
        seg = pts[a : a + chunk + 1]
        width = float(w[a : a + chunk + 1].mean())
        if len(seg) < 2 or width <= 0 or not _in_view(seg, n, width + 2):
            continue
        polys.append(LineString(seg).buffer(width / 2, quad_segs=3))
    return polys


def _burn(
    shapes: Iterable[tuple[Any, int]], n: int, dtype: str = "uint8", factor: int = 1, out: np.ndarray | None = None
) -> np.ndarray:
    """Rasterise (geometry, value) pairs given in pixel coordinates; later shapes win."""
    from affine import Affine
    from rasterio.features import rasterize

    m = -(-n // factor)
    if out is None:
        out = np.zeros((m, m), dtype)
    shapes = list(shapes)
    if shapes:
        rasterize(shapes, out=out, transform=Affine.scale(factor))
    return out


def _polygon(corners: np.ndarray) -> dict[str, Any]:
    ring = corners.tolist()
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _blob(rng: np.random.Generator, centre: np.ndarray, radius: float, k: int = 9) -> dict[str, Any]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = radius * rng.uniform(0.65, 1.3, k)
    return _polygon(centre + np.stack([np.cos(ang) * r, np.sin(ang) * r], axis=1))


@dataclass
class _River:
    bed: list[Any]
    water_before: list[Any]
    water_after: list[Any]
    buffer: list[Any]
    theta: float


def _rivers(seed: int, n: int) -> _River:
    rng = _rng(seed, "rivers")
    step = 3.0
    theta = rng.uniform(0, 2 * np.pi)
    perp = np.array([-math.sin(theta), math.cos(theta)])
    centre = np.array([n / 2, n / 2]) + perp * rng.uniform(-0.3, 0.3) * n
    w0 = rng.uniform(8, 20)
    k = int(3.4 * n / step) + 200
    heads, widths = _meander(rng, k, step, theta, w0, rng.uniform(0.7, 1.15))
    main = _integrate(np.zeros(2), heads, step)
    main += centre - main[k // 2]
    channels = [(main, widths)]
    inside = np.flatnonzero(np.all((main > 0.15 * n) & (main < 0.85 * n), axis=1))
    if len(inside):
        j = int(rng.choice(inside))
        wt = rng.uniform(2.5, 6.0)
        kt = int(rng.uniform(0.6, 1.2) * n / step) + 50
        side = rng.choice([-1.0, 1.0])
        ht, wtt = _meander(rng, kt, step, heads[j] + np.pi + side * rng.uniform(0.6, 1.3), wt, rng.uniform(0.8, 1.2))
        channels.append((_integrate(main[j], ht, step), wtt))
    bed, wb, wa, buf = [], [], [], []
    level = rng.uniform(0.72, 1.12)  # river level of the after date relative to the before date
    buffer_w = rng.uniform(6, 16)
    for pts, w in channels:
        k = len(pts)
        before = np.clip(0.8 + 0.12 * _smooth1d(rng, k, 100 / step), 0.6, 0.95)
        after = np.clip(before * level * (1 + 0.08 * _smooth1d(rng, k, 100 / step)), 0.45, 1.0)
        # sand is exposed on the inner bank of bends (point bars): the water hugs the outer one
        h = np.arctan2(*np.gradient(pts, axis=0)[:, ::-1].T)
        curv = ndimage.gaussian_filter1d(np.gradient(np.unwrap(h)), 5)
        bend = np.clip(1.5 * curv / max(float(np.abs(curv).max()), 1e-9), -1, 1)
        nrm = np.stack([-np.sin(h), np.cos(h)], axis=1)
        bed += _strip(pts, w, n)
        for frac, out in ((before, wb), (after, wa)):
            shift = (-(1 - frac) * w / 2 * bend)[:, None] * nrm
            out += _strip(pts + shift, w * frac, n)
        buf += _strip(pts, w + buffer_w, n)
    return _River(bed, wb, wa, buf, theta)


@dataclass
class _Roads:
    mains: list[tuple[np.ndarray, np.ndarray]]  # points, headings
    sides: list[tuple[np.ndarray, np.ndarray, float]]  # points, headings, spacing
    main_width: float = 2.6
    side_width: float = 1.5

    def shapes(self, n: int) -> list[Any]:
        polys = []
        for pts, _ in self.mains:
            polys += _strip(pts, self.main_width, n, chunk=30)
        for pts, _, _ in self.sides:
            polys += _strip(pts, self.side_width, n, chunk=30)
        return polys

    def vertices(self) -> np.ndarray:
        return np.concatenate([p[::4] for p, _ in self.mains] + [p[::4] for p, _, _ in self.sides])


def _roads(seed: int, n: int, river_theta: float) -> _Roads:
    """Main roads (one per ~40 km of scene) with side roads at right angles every 2-4 km."""
    rng = _rng(seed, "roads")
    theta = river_theta + rng.uniform(0.9, 2.2) * rng.choice([-1.0, 1.0])
    perp = np.array([-math.sin(theta), math.cos(theta)])
    k = 1 + n // 4096
    roads = _Roads([], [])
    step = 4.0
    length = 3.2 * n + 800
    for j in range(k):
        offset = ((j + 0.5) / k - 0.5) * 0.9 * n + rng.uniform(-0.2, 0.2) * n / k
        centre = np.array([n / 2, n / 2]) + perp * offset + rng.uniform(-0.1, 0.1, 2) * n
        pts, heads = _road_path(rng, np.zeros(2), theta + rng.normal(0, 0.12), length, 0.1, 600)
        pts += centre - pts[len(pts) // 2]
        roads.mains.append((pts, heads))
        spacing = rng.uniform(220, 340)
        side_len = {1.0: rng.uniform(0.4, 1.3), -1.0: rng.uniform(0.4, 1.3)}
        s = rng.uniform(0, spacing)
        while s < length - step:
            i = int(s / step)
            gap = spacing * rng.uniform(0.75, 1.25)
            if _in_view(pts[i : i + 1], n, 0.6 * n + 1500):
                for side in (1.0, -1.0):
                    if rng.random() > 0.85:
                        continue
                    h = heads[i] + side * np.pi / 2 + rng.normal(0, 0.1)
                    ln = rng.uniform(250, 1400) * side_len[side]
                    sp, sh = _road_path(rng, pts[i], h, ln, 0.06, 200)
                    if _in_view(sp, n, 50):
                        roads.sides.append((sp, sh, spacing))
            s += gap
    return roads


@dataclass
class _Lots:
    """Parcels along roads, in road-aligned frames: origin, along-road and away-from-road axes."""

    p: np.ndarray
    t: np.ndarray
    nrm: np.ndarray
    width: np.ndarray
    dmax: np.ndarray
    age: np.ndarray
    jitter: np.ndarray
    cls: np.ndarray
    depth: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def corners(
        self,
        d0: np.ndarray,
        d1: np.ndarray,
        u0: np.ndarray | float = 0.0,
        u1: np.ndarray | float = 1.0,
        idx: np.ndarray | None = None,
    ) -> np.ndarray:
        sl = slice(None) if idx is None else idx
        p, t, nrm, w = self.p[sl], self.t[sl], self.nrm[sl], self.width[sl]
        a0 = (np.asarray(u0) * w)[:, None]
        a1 = (np.asarray(u1) * w)[:, None]
        d0c, d1c = np.asarray(d0)[:, None], np.asarray(d1)[:, None]
        c = np.stack(
            [p + t * a0 + nrm * d0c, p + t * a1 + nrm * d0c, p + t * a1 + nrm * d1c, p + t * a0 + nrm * d1c], axis=1
        )
        c[:, 2:] += self.jitter[sl][:, 2:]
        return c


def _frames_along(
    pts: np.ndarray, heads: np.ndarray, positions: np.ndarray, side: float, offset: float, step: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = np.clip((positions / step).astype(int), 0, len(pts) - 1)
    t = np.stack([np.cos(heads[i]), np.sin(heads[i])], axis=1)
    nrm = side * np.stack([-t[:, 1], t[:, 0]], axis=1)
    return pts[i] + nrm * offset, t, nrm


def _lots(seed: int, n: int, roads: _Roads) -> _Lots:
    rng = _rng(seed, "lots")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "t", "nrm", "width", "dmax", "age", "cls")}

    def add(
        pts: np.ndarray,
        heads: np.ndarray,
        wlo: float,
        whi: float,
        dmax: np.ndarray | float,
        age: Callable[[np.ndarray], np.ndarray],
        probs: Sequence[float],
        offset: float,
        start: float,
    ) -> None:
        length = (len(pts) - 1) * 4.0
        for side in (1.0, -1.0):
            widths = rng.uniform(wlo, whi, int(length / wlo) + 2)
            pos = start + np.concatenate([[0.0], np.cumsum(widths)[:-1]])
            keep = pos + widths < length
            pos, widths = pos[keep], widths[keep]
            if not len(pos):
                continue
            p, t, nrm = _frames_along(pts, heads, pos, side, offset)
            view = np.all((p > -800) & (p < n + 800), axis=1)
            if not view.any():
                continue
            m = len(pos)
            ages = age(pos / length) * (rng.random(m) > 0.12)
            cls = rng.choice([LandClass.PASTURE, LandClass.BARE, LandClass.SECONDARY], m, p=probs)
            for key, val in (
                ("p", p),
                ("t", t),
                ("nrm", nrm),
                ("width", widths),
                ("dmax", np.broadcast_to(dmax, (m,)) * rng.uniform(0.85, 1.0, m)),
                ("age", ages),
                ("cls", cls),
            ):
                parts[key].append(np.asarray(val)[view])

    for mp, mh in roads.mains:
        add(
            mp, mh, 50, 140, rng.uniform(150, 320), lambda x: rng.uniform(0.6, 1.6, len(x)), (0.75, 0.2, 0.05), 0.0, 0.0
        )
    for sp, sh, spacing in roads.sides:
        add(
            sp,
            sh,
            22,
            45,
            0.47 * spacing,
            lambda x: rng.uniform(0.25, 1.25, len(x)) * (1.5 - x),
            (0.72, 0.1, 0.18),
            0.0,
            6.0,
        )
    if not parts["p"]:
        z2 = np.zeros((0, 2))
        return _Lots(z2, z2, z2, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 4, 2)), np.zeros(0, np.uint8))
    arr = {k: np.concatenate(v) for k, v in parts.items()}
    m = len(arr["p"])
    return _Lots(
        arr["p"],
        arr["t"],
        arr["nrm"],
        arr["width"],
        arr["dmax"],
        arr["age"],
        rng.normal(0, 1.5, (m, 4, 2)),
        arr["cls"].astype(np.uint8),
    )


# --------------------------------------------------------------------------------------------
# Land cover
# --------------------------------------------------------------------------------------------


@dataclass
class LandCover:
    """Land-cover maps of both dates on the scene grid (codes: :class:`LandClass`).

    ``loss`` is True where primary forest in ``before`` is non-forest in ``after``. ``parcel`` is
    the id of the cleared parcel each pixel belongs to (0 = none); ``cond_before``/``cond_after``
    hold each parcel's condition (pasture dryness, soil moisture) on either date.
    """

    before: np.ndarray
    after: np.ndarray
    loss: np.ndarray
    parcel: np.ndarray
    cond_before: np.ndarray
    cond_after: np.ndarray
    stats: dict[str, Any]

    def shares(self, which: str = "before") -> dict[str, float]:
        counts = np.bincount(getattr(self, which).ravel(), minlength=N_CLASSES)
        total = counts.sum()
        return {CLASS_NAMES[c]: round(float(counts[c]) / total, 6) for c in range(1, N_CLASSES) if counts[c]}


def _fit_clearing(lots: _Lots, n: int, target: float, river_bed: list[Any], buffer: list[Any]) -> np.ndarray:
    """Cleared depth of each parcel so that the non-forest share is close to ``target``.

    Depth = dmax x min(1, s x age); the global scale s is found by bisection on a coarse raster.
    """
    factor = max(1, n // 512)
    m = -(-n // factor)
    bed = _burn(((g, 1) for g in river_bed), n, factor=factor).astype(bool)
    protected = _burn(((g, 1) for g in buffer), n, factor=factor).astype(bool) & ~bed
    ok = np.all((lots.p > -600) & (lots.p < n + 600), axis=1) & (lots.age > 0)
    idx = np.flatnonzero(ok)

    def depths(s: float) -> np.ndarray:
        return lots.dmax * np.minimum(1.0, s * lots.age)

    def share(s: float) -> float:
        d = depths(s)[idx]
        use = d >= 6
        if not use.any():
            return float(bed.mean())
        corners = lots.corners(np.zeros(use.sum()), d[use], idx=idx[use])
        r = np.zeros((m, m), np.uint8)
        _burn(((_polygon(c), 1) for c in corners), n, factor=factor, out=r)
        cleared = (r.astype(bool) & ~protected) | bed
        return float(cleared.mean())

    if not len(idx):
        return np.zeros(len(lots.p))
    positive = lots.age[idx]
    lo, hi = 0.0, 2.0 / float(positive.min())
    if share(hi) <= target:
        return depths(hi)
    if share(lo) >= target:
        return depths(lo)
    for _ in range(13):
        mid = math.sqrt(max(lo, 1e-3) * hi) if lo > 0 else hi / 8
        if share(mid) < target:
            lo = mid
        else:
            hi = mid
    return depths(0.5 * (lo + hi))


@dataclass
class _Event:
    category: str
    shapes: list[tuple[Any, int]]  # (geometry, class code | 128 when the outline stays as drawn)


_KEEP_OUTLINE = 128


def _loss_events(rng: np.random.Generator, n: int, lots: _Lots, roads: _Roads, budget: float) -> list[_Event]:
    """Candidate clearings of four kinds, each pool a few times larger than its share."""
    events: list[_Event] = []

    def cleared_class() -> int:
        return int(rng.choice(_CLEARED, p=_CLEARED_P))

    # 1. fishbone: parcels cleared deeper (or for the first time) back from the road
    near = np.flatnonzero(np.all((lots.p > -100) & (lots.p < n + 100), axis=1) & (lots.depth < lots.dmax - 4))
    rng.shuffle(near)
    for i in near:
        d0 = lots.depth[i]
        d1 = min(lots.dmax[i], d0 + rng.uniform(15, 80))
        u0, u1 = (0.0, 1.0) if rng.random() < 0.5 else sorted(rng.uniform(0, 1, 2))
        if u1 - u0 < 0.4:
            u0, u1 = 0.0, 1.0
        c = lots.corners(np.array([d0]), np.array([d1]), u0, u1, idx=np.array([i]))[0]
        events.append(_Event("fishbone", [(_polygon(c), cleared_class())]))

    # 2. blocky pasture conversion: rectangles behind parcels or standing alone near roads
    area, want = 0.0, 4 * 0.33 * budget + 20000
    while area < want:
        w, h = rng.uniform(50, 200), rng.uniform(40, 180)
        ang = rng.normal(0, 0.06)
        if len(lots.p) and rng.random() < 0.75:
            i = int(rng.integers(len(lots.p)))
            t, nrm = lots.t[i], lots.nrm[i]
            origin = lots.p[i] + t * lots.width[i] * rng.uniform(0, 1) + nrm * lots.depth[i]
        else:
            mp, mh = roads.mains[int(rng.integers(len(roads.mains)))]
            i = int(rng.integers(len(mp)))
            th = mh[i] + np.pi / 2
            t = np.array([math.cos(mh[i]), math.sin(mh[i])])
            nrm = np.array([math.cos(th), math.sin(th)]) * rng.choice([-1.0, 1.0])
            origin = mp[i] + nrm * rng.uniform(100, 900)
        ca, sa = math.cos(ang), math.sin(ang)
        t, nrm = ca * t + sa * nrm, -sa * t + ca * nrm
        c = np.stack(
            [origin - t * w / 2, origin + t * w / 2, origin + t * w / 2 + nrm * h, origin - t * w / 2 + nrm * h]
        )
        c += rng.normal(0, 2.0, c.shape)
        if not _in_view(c, n, 0):
            area += 0.2 * w * h
            continue
        events.append(_Event("blocky", [(_polygon(c), cleared_class())]))
        area += w * h

    # 3. side roads pushed further into the forest, with the first clearings along them
    for sp, sh, _ in roads.sides:
        end, head = sp[-1], sh[-1]
        if not _in_view(sp[-1:], n, 200):
            continue
        ext, eh = _road_path(rng, end, head, rng.uniform(150, 600), 0.06, 200)
        shapes = [(g, int(LandClass.ROAD) | _KEEP_OUTLINE) for g in _strip(ext, roads.side_width, n)]
        length = (len(ext) - 1) * 4.0
        for side in (1.0, -1.0):
            pos = np.arange(10.0, length - 30, rng.uniform(25, 45))
            pos = pos[rng.random(len(pos)) < 0.55]
            if not len(pos):
                continue
            p, t, nrm = _frames_along(ext, eh, pos, side, roads.side_width / 2 + 0.5)
            w = rng.uniform(22, 40, len(pos))[:, None]
            d = rng.uniform(20, 70, len(pos))[:, None]
            for c in np.stack([p, p + t * w, p + t * w + nrm * d, p + nrm * d], axis=1):
                shapes.append((_polygon(c + rng.normal(0, 1.2, c.shape)), cleared_class()))
        events.append(_Event("road", shapes))

    # 4. selective logging: clusters of small canopy gaps, a log deck or two and a skid trail
    verts = roads.vertices()
    area, want = 0.0, 4 * 0.12 * budget + 3000
    while area < want:
        centre = rng.uniform(0.05, 0.95, 2) * n
        spread = rng.uniform(40, 90)
        shapes = []
        for _ in range(int(rng.integers(12, 40))):
            r = rng.uniform(1.5, 7.5)
            shapes.append((_blob(rng, centre + rng.normal(0, spread, 2), r), int(LandClass.LOGGED) | _KEEP_OUTLINE))
            area += np.pi * r * r
        for _ in range(int(rng.integers(1, 3))):
            r = rng.uniform(3.5, 6)
            shapes.append((_blob(rng, centre + rng.normal(0, spread / 3, 2), r), int(LandClass.BARE) | _KEEP_OUTLINE))
        dist = np.hypot(*(verts - centre).T)
        j = int(np.argmin(dist))
        if dist[j] < 600:
            vec = centre - verts[j]
            tp, _ = _road_path(rng, verts[j], math.atan2(vec[1], vec[0]), float(dist[j]), 0.15, 80)
            shapes += [(g, int(LandClass.LOGGED) | _KEEP_OUTLINE) for g in _strip(tp, 1.0, n)]
        events.append(_Event("logging", shapes))
    return [events[i] for i in rng.permutation(len(events))]


_LOSS_SHARES = {"fishbone": 0.40, "blocky": 0.33, "road": 0.15, "logging": 0.12}


def _select(counts: np.ndarray, events: list[_Event], budget: float) -> np.ndarray:
    """Greedy choice of events (in their random order) filling each category's share."""
    chosen = np.zeros(len(events), bool)
    used = dict.fromkeys(_LOSS_SHARES, 0.0)
    total = 0.0
    for i, ev in enumerate(events):
        c = float(counts[i + 1])
        if c > 0 and used[ev.category] + c <= _LOSS_SHARES[ev.category] * budget:
            chosen[i] = True
            used[ev.category] += c
            total += c
    for i in range(len(events)):
        c = float(counts[i + 1])
        if not chosen[i] and c > 0 and total + c <= budget:
            chosen[i] = True
            total += c
    return chosen


def land_cover(config: SimulationConfig, progress: Callable[[str], None] | None = None) -> LandCover:
    """The before and after land cover of a configuration (deterministic for its seed)."""
    cfg = config.resolved()
    say = progress or (lambda _msg: None)
    n, seed = cfg.size, cfg.seed
    river = _rivers(seed, n)
    roads = _roads(seed, n, river.theta)
    lots = _lots(seed, n, roads)
    lots.depth = _fit_clearing(lots, n, 1.0 - cfg.forest_fraction, river.bed, river.buffer)
    say(f"land cover: {len(roads.sides)} side roads, {int((lots.depth >= 6).sum())} cleared parcels")

    work = np.empty((n, n), np.float32)
    tmp = np.empty((n, n), np.float32)
    medium = np.empty((n, n), np.float32)
    _fractal(_rng(seed, "edges"), n, [(4.0, 0.8), (25.0, 0.6)], out=medium)

    # Parcels: cleared part of each lot, plus regrowth at the back of some pastures.
    rng = _rng(seed, "changes")
    drawn = np.flatnonzero(lots.depth >= 6)
    m = len(drawn)
    back = drawn[(lots.cls[drawn] == LandClass.PASTURE) & (lots.depth[drawn] > 60) & (rng.random(m) < 0.22)]
    n_parcels = m + len(back)
    parcel_dtype = "uint16" if n_parcels < 65535 else "uint32"
    parcel_cls = np.concatenate([[LandClass.FOREST], lots.cls[drawn], np.full(len(back), LandClass.SECONDARY)]).astype(
        np.uint8
    )
    shapes: list[tuple[Any, int]] = []
    corners = lots.corners(np.zeros(m), lots.depth[drawn], idx=drawn)
    shapes += [(_polygon(c), i + 1) for i, c in enumerate(corners)]
    d_back = lots.depth[back]
    corners = lots.corners(d_back * rng.uniform(0.5, 0.8, len(back)), d_back, idx=back)
    shapes += [(_polygon(c), m + i + 1) for i, c in enumerate(corners)]
    parcel = _burn(shapes, n, dtype=parcel_dtype)
    cleared = parcel > 0
    keep = _ragged(cleared, medium, work, tmp)
    grown = keep & ~cleared
    parcel[grown] = _max_filter(parcel, 2)[grown]
    parcel[~keep] = 0
    del cleared, keep, grown

    before = parcel_cls[parcel]
    river_b = _burn([(g, 1) for g in river.bed] + [(g, 2) for g in river.water_before], n)
    protected = _burn([(g, 1) for g in river.buffer], n).astype(bool)
    protected &= river_b == 0
    before[protected & (before != LandClass.FOREST)] = LandClass.FOREST
    parcel[protected] = 0
    del protected
    road = _burn(((g, 1) for g in roads.shapes(n)), n).astype(bool)
    before[river_b == 1] = LandClass.SAND
    before[river_b == 2] = LandClass.WATER
    before[road] = LandClass.ROAD
    parcel[(river_b > 0) | road] = 0
    del river_b

    # Parcel conditions and non-forest changes between the dates.
    cond_before = np.clip(rng.normal(0, 0.45, n_parcels + 1), -1.2, 1.2).astype(np.float32)
    cond_after = (cond_before + rng.normal(0, 0.25, n_parcels + 1)).astype(np.float32)
    cond_before[0] = cond_after[0] = 0
    after_cls = parcel_cls.copy()
    u = rng.random(n_parcels + 1)
    pasture = parcel_cls == LandClass.PASTURE
    after_cls[pasture & (u < 0.06)] = LandClass.BARE
    after_cls[pasture & (u > 0.96)] = LandClass.BURN
    after_cls[(parcel_cls == LandClass.BARE) & (u < 0.3)] = LandClass.PASTURE
    after_cls[0] = LandClass.FOREST
    after = np.where(parcel > 0, after_cls[parcel], before)
    river_a = _burn([(g, 1) for g in river.bed] + [(g, 2) for g in river.water_after], n)
    after[river_a == 1] = LandClass.SAND
    after[river_a == 2] = LandClass.WATER
    after[road] = LandClass.ROAD
    del river_a, road

    # Forest loss.
    forest = before == LandClass.FOREST
    n_forest = int(forest.sum())
    budget = cfg.deforestation_rate * n_forest
    events = _loss_events(_rng(seed, "events"), n, lots, roads, budget)
    say(f"land cover: {len(events)} candidate clearings for {budget / n / n:.1%} loss")
    ev = _burn(((g, i + 1) for i, e in reversed(list(enumerate(events))) for g, _ in e.shapes), n, dtype="uint32")
    ev[~forest] = 0
    counts = np.bincount(ev.ravel(), minlength=len(events) + 1)
    del ev
    chosen = _select(counts, events, budget)
    order = [e for e, c in zip(events, chosen, strict=True) if c and e.category != "road"]
    order += [e for e, c in zip(events, chosen, strict=True) if c and e.category == "road"]
    lcls = _burn((s for e in order for s in e.shapes), n)
    outline = (lcls > 0) & (lcls < _KEEP_OUTLINE)
    rough = _ragged(outline, np.roll(medium, (97, 131), axis=(0, 1)), work, tmp, 1.2, 0.25)
    del work, tmp, medium
    grown = rough & ~outline & forest
    lcls[grown] = _max_filter(np.where(outline, lcls, 0).astype(np.uint8), 2)[grown]
    loss = forest & ((rough & (lcls > 0)) | (lcls >= _KEEP_OUTLINE))
    del rough, outline, grown
    after[loss] = lcls[loss] & (_KEEP_OUTLINE - 1)
    del lcls
    stats = {
        "forest_fraction": round(n_forest / (n * n), 6),
        "loss_share": round(float(loss.mean()), 6),
        "deforestation_rate": round(float(loss.sum()) / max(n_forest, 1), 6),
        "side_roads": len(roads.sides),
        "parcels": n_parcels,
        "clearings": {
            c: int(sum(1 for e, k in zip(events, chosen, strict=True) if k and e.category == c)) for c in _LOSS_SHARES
        },
    }
    return LandCover(before, after, loss, parcel, cond_before, cond_after, stats)


# --------------------------------------------------------------------------------------------
# Reflectance
# --------------------------------------------------------------------------------------------


@dataclass
class _Date:
    role: str
    base: np.ndarray  # (classes, bands) reflectance
    amp: np.ndarray
    fine: np.ndarray  # (classes,)
    med: np.ndarray
    cond_shift: float  # added to pasture-like classes' condition
    gain: np.ndarray  # per-band multiplicative
    offset: np.ndarray  # per-band additive
    haze: float
    cloud_cover: float
    sun_elevation: float
    sun_azimuth: float
    noise: float
    shift: tuple[float, float] = (0.0, 0.0)
    final_gain: float = 1.0
    swath_edge: float = 0.0


def _knob(value: float | None) -> float:
    if value is None:  # pragma: no cover - resolved() fills every override
        raise ValueError("configuration not resolved")
    return float(value)


def _dates(cfg: SimulationConfig) -> tuple[_Date, _Date]:
    """Per-date spectra, radiometry, atmosphere strengths and geometry."""
    base, amp, fine, med = _tables()
    rb, ra = _rng(cfg.seed, "before"), _rng(cfg.seed, "after")
    ph, ss = _knob(cfg.phenology), cfg.season_shift
    haze, cover, noise = _knob(cfg.haze), _knob(cfg.cloud_cover), _knob(cfg.noise)
    before = _Date(
        "before",
        base.copy(),
        amp.copy(),
        fine,
        med,
        0.0,
        (1 + rb.normal(0, 0.01, 6)).astype(np.float32),
        np.zeros(6, np.float32),
        0.5 * haze,
        0.5 * cover,
        48.0,
        40.0,
        noise,
    )
    b_after = base.copy()
    for c in _VEGETATION:
        b_after[c, 3:] *= 1 + ph * ra.normal(0, 0.04, 3) + np.array([0.05, -0.04, -0.05]) * ss
    angle = ra.uniform(0, 2 * np.pi)
    mis = _knob(cfg.misregistration_px)
    after = _Date(
        "after",
        b_after,
        amp.copy(),
        fine,
        med,
        cond_shift=ph * ra.uniform(-0.5, 0.5) - 0.6 * ss,
        gain=(1 + ph * ra.normal(0, 0.05, 6) + 0.03 * ss).astype(np.float32),
        offset=(ph * ra.normal(0, 25, 6)).astype(np.float32),
        haze=haze,
        cloud_cover=cover,
        sun_elevation=48.0 + ph * ra.uniform(-4, 4) + 8 * ss,
        sun_azimuth=40.0 + ph * ra.uniform(-8, 8),
        noise=noise,
        shift=(mis * math.sin(angle), mis * math.cos(angle)),
        final_gain=cfg.gain,
        swath_edge=_knob(cfg.swath_edge),
    )
    return before, after


@dataclass
class _Atmosphere:
    mult: np.ndarray  # terrain illumination x haze transmittance
    haze: np.ndarray | None  # 0..1 haze field x strength
    cloud: np.ndarray | None  # cloud opacity 0..1
    shadow: np.ndarray | None  # opacity of the cloud casting a shadow on each pixel
    nodata: np.ndarray | None
    hidden: np.ndarray  # cloud or shadow thick enough to hide the ground
    cloudy: np.ndarray | None  # cloud thick enough to hide the ground
    cloud_share: float
    shadow_share: float


def _terrain(seed: int, n: int) -> np.ndarray:
    """Coarse (factor 8) elevation in metres: gently rolling terrain, slopes of a few degrees."""
    dem = _fractal(_rng(seed, "terrain"), n, [(600.0, 1.0), (150.0, 0.5)], factor=8)
    dem = ndimage.gaussian_filter(dem, 3.0, mode="nearest")
    gy, gx = np.gradient(dem, 8 * PIXEL_SIZE)
    slope = float(np.sqrt(gx * gx + gy * gy).std())
    return dem * (0.035 / max(slope, 1e-9))


def _atmosphere(cfg: SimulationConfig, date: _Date, dem: np.ndarray, mult: np.ndarray) -> _Atmosphere:
    """Illumination, haze, cloud and shadow fields of one date, and the pixels they hide."""
    n = cfg.size
    rng = _rng(cfg.seed, date.role)
    rng = np.random.default_rng(rng.integers(2**63))
    # terrain illumination relative to flat ground (image x = east, y = south)
    gy, gx = np.gradient(dem, 8 * PIXEL_SIZE)
    el, az = math.radians(date.sun_elevation), math.radians(date.sun_azimuth)
    sun = (math.cos(el) * math.sin(az), -math.cos(el) * math.cos(az), math.sin(el))
    cos_i = (-gx * sun[0] - gy * sun[1] + sun[2]) / np.sqrt(gx * gx + gy * gy + 1)
    illum = (cos_i / math.sin(el)).astype(np.float32)
    haze = None
    if date.haze > 0:
        # smooth fields are combined on their coarse grids: bilinear upsampling commutes with
        # the affine steps, so only the final fields are ever computed at full resolution
        h = _fractal(rng, n, [(500.0, 1.0), (120.0, 0.5)], factor=16)
        h = (1 / (1 + np.exp(-1.8 * h))).astype(np.float32) * np.float32(date.haze)
        haze = _resample(h, 16, 1, n, out=np.empty((n, n), np.float16), full=True)
        illum *= 1 - np.float32(0.15) * _resample(h, 16, 8, illum.shape[0])
    _resample(illum, 8, 1, n, out=mult, full=True)
    cloud = shadow = cloudy = None
    hidden = np.zeros((n, n), bool)
    cloud_share = shadow_share = 0.0
    if date.cloud_cover > 0:
        # Clouds are drawn over a margin around the scene so that shadows of clouds just
        # outside it fall inside, as they do in a real image.
        height = rng.uniform(800, 1800)
        dist = height / math.tan(el) / PIXEL_SIZE
        sy, sx = round(dist * math.cos(az)), round(-dist * math.sin(az))
        pad = max(abs(sy), abs(sx)) + 4
        ne = n + 2 * pad
        coarse = _fractal(rng, ne, [(350.0, 0.6), (70.0, 0.7), (14.0, 0.3)], factor=4)
        inner = coarse[pad // 4 + 1 : (pad + n) // 4 + 1, pad // 4 + 1 : (pad + n) // 4 + 1]
        # opacity reaches HIDDEN_THRESHOLD on the cloud_cover quantile of the field
        t = float(np.quantile(inner, 1 - date.cloud_cover))
        soft = 0.5
        coarse = np.clip((coarse - np.float32(t)) / np.float32(soft) + HIDDEN_THRESHOLD, 0, 1)
        ext = _resample(coarse, 4, 1, ne, out=np.empty((ne, ne), np.float16), full=True)
        cloud = ext[pad : pad + n, pad : pad + n]
        shadow = ext[pad - sy : pad - sy + n, pad - sx : pad - sx + n]
        cloudy = cloud > HIDDEN_THRESHOLD
        shadowed = shadow > HIDDEN_THRESHOLD
        cloud_share = float(cloudy.mean())
        shadow_share = float((shadowed & ~cloudy).mean())
        hidden = cloudy | shadowed
        del shadowed
    nodata = None
    if date.swath_edge > 0:
        rows = np.arange(n)[:, None]
        cols = np.arange(n)[None, :]
        tilt = math.tan(math.radians(12))
        edge = cols - (1 - date.swath_edge) * n - tilt * (rows - n / 2)
        nodata = edge > 0 if rng.random() < 0.5 else edge[:, ::-1] > 0
        hidden |= nodata
    return _Atmosphere(mult, haze, cloud, shadow, nodata, hidden, cloudy, cloud_share, shadow_share)


def _variation(
    cfg: SimulationConfig, lc: LandCover, cls: np.ndarray, date: _Date, out: np.ndarray, tmp: np.ndarray
) -> None:
    """Per-pixel variation field of one date: texture weighted by class, plus parcel condition."""
    n = cfg.size
    medium = np.empty((n, n), np.float32)
    _texture(cfg.seed, n, out, medium)  # out = fine texture
    np.take(date.fine, cls, out=tmp, mode="wrap")
    out *= tmp
    np.take(date.med, cls, out=tmp, mode="wrap")
    medium *= tmp
    out += medium
    del medium
    cond = lc.cond_before if date.role == "before" else lc.cond_after
    np.take(cond, lc.parcel, out=tmp, mode="wrap")
    out += tmp
    if date.cond_shift:
        lut = np.zeros(N_CLASSES, np.float32)
        lut[list(_PASTURE_LIKE)] = date.cond_shift
        np.take(lut, cls, out=tmp, mode="wrap")
        out += tmp


def _render(
    cfg: SimulationConfig,
    lc: LandCover,
    date: _Date,
    atm: _Atmosphere,
    variation: np.ndarray,
    bufs: tuple[np.ndarray, np.ndarray],
    out: np.ndarray,
    write: Callable[[np.ndarray, int], None],
) -> dict[str, float]:
    """Compute each band of one date in float32 and hand it to ``write`` as uint16."""
    n = cfg.size
    cls = lc.before if date.role == "before" else lc.after
    a, b = bufs
    rng = _rng(cfg.seed, date.role)
    rng = np.random.default_rng(rng.integers(2**63, size=2)[1])
    means = {}
    for k, band in enumerate(DEFAULT_BANDS):
        np.take(date.base[:, k], cls, out=a, mode="wrap")
        np.take(date.amp[:, k], cls, out=b, mode="wrap")
        b *= variation
        a += b
        a *= atm.mult
        a *= date.gain[k]
        a += date.offset[k]
        _blur_shift(a, b, _PSF_SIGMA, *date.shift)
        if atm.shadow is not None:
            np.multiply(atm.shadow, -_SHADOW_DARK[k], out=b)
            b += 1
            a *= b
        if atm.haze is not None:
            np.multiply(atm.haze, _HAZE[k], out=b)
            a += b
        if atm.cloud is not None:
            np.multiply(atm.cloud, np.float32(0.15) * _CLOUD[k], out=b)
            b += np.float32(0.85) * _CLOUD[k]
            b -= a
            b *= atm.cloud
            a += b
        if date.noise > 0:
            scale = np.float32(date.noise * _NOISE_BAND[k] / 104.5)
            chunk = 512
            for r0 in range(0, n, chunk):
                r1 = min(n, r0 + chunk)
                u = rng.integers(0, 256, (2, r1 - r0, n), dtype=np.uint8)
                t = b[r0:r1]
                np.add(u[0], u[1], out=t, dtype=np.float32)
                t -= np.float32(255.0)
                t *= scale
                a[r0:r1] += t
        if date.final_gain != 1.0:
            a *= np.float32(date.final_gain)
        np.clip(a, 1, 65535, out=a)
        a += np.float32(0.5)
        np.copyto(out, a, casting="unsafe")
        if atm.nodata is not None:
            out[atm.nodata] = NODATA
        means[band] = round(float(a[::8, ::8].mean()), 1)
        write(out, k + 1)
    return means


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def _write_date(
    cfg: SimulationConfig,
    lc: LandCover,
    date: _Date,
    dem: np.ndarray,
    path: Path,
    grid: Grid,
    tags: dict[str, Any],
    hidden: np.ndarray,
    cloudy: np.ndarray,
    say: Callable[[str], None],
) -> tuple[dict[str, float], dict[str, float]]:
    """Render and write one date; accumulate the pixels it hides into ``hidden``/``cloudy``.

    The work arrays are released before the COG is finished, when GDAL needs its block cache.
    """
    n = cfg.size
    say(f"{date.role}: atmosphere and textures ({tags['ACQUISITION_DATE']})")
    mult = np.empty((n, n), np.float32)
    atm = _atmosphere(cfg, date, dem, mult)
    hidden |= atm.hidden
    if atm.cloudy is not None:
        cloudy |= atm.cloudy
    stats = {
        "cloud_share": round(atm.cloud_share, 6),
        "shadow_share": round(atm.shadow_share, 6),
        "nodata_share": round(float(atm.nodata.mean()), 6) if atm.nodata is not None else 0.0,
        "sun_elevation": round(date.sun_elevation, 3),
        "sun_azimuth": round(date.sun_azimuth, 3),
    }
    a = np.empty((n, n), np.float32)
    b = np.empty((n, n), np.float32)
    _variation(cfg, lc, lc.before if date.role == "before" else lc.after, date, b, a)
    variation = b.astype(np.float16)  # +-4 in steps of 0.004: far below the sensor noise
    out = np.empty((n, n), np.uint16)
    say(f"{date.role}: rendering {len(DEFAULT_BANDS)} bands")
    writer = scene_writer(path, grid, DEFAULT_BANDS, tags=tags)
    try:
        means = _render(cfg, lc, date, atm, variation, (a, b), out, lambda arr, i: writer.write(arr, indexes=i))
        del atm, mult, a, b, variation, out
        say(f"writing: {path.name}")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    _release_memory()
    return stats, means


def _release_memory() -> None:
    """Hand freed heap (GDAL's block cache after a COG is finished) back to the OS (glibc)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def simulate_scene(
    config: SimulationConfig,
    out_dir: str | Path,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SimulatedScene:
    """Simulate a before/after scene pair with its loss mask, quicklook and summary JSON.

    Writes ``<name>_before.tif``, ``<name>_after.tif`` (uint16 COGs, bands
    :data:`~planet_sentinel.bands.DEFAULT_BANDS`), ``<name>_mask.tif`` (uint8: 0 no loss,
    1 forest loss, 255 unknown), ``<name>_quicklook.png`` and ``<name>_simulation.json`` into
    ``out_dir``. Existing outputs are refused unless ``overwrite``; every file is written
    atomically.
    """
    from planet_sentinel.quicklook import scene_quicklook

    cfg = config.resolved()
    say = progress or (lambda _msg: None)
    paths = output_paths(cfg.name, out_dir)
    refuse_existing(list(paths.values()), overwrite)
    grid = scene_grid(cfg)
    n = cfg.size
    say(f"land cover: {n}x{n} px at {PIXEL_SIZE} m, {grid.crs}, seed {cfg.seed}")
    lc = land_cover(cfg, progress=say)
    dem = _terrain(cfg.seed, n)
    dates = _dates(cfg)
    hidden = np.zeros((n, n), bool)
    cloudy = np.zeros((n, n), bool)
    atm_stats: dict[str, dict[str, float]] = {}
    means: dict[str, dict[str, float]] = {}
    common_tags = {
        "GENERATOR": GENERATOR,
        "SEED": cfg.seed,
        "DIFFICULTY": cfg.difficulty,
        "REFLECTANCE_SCALE": REFLECTANCE_SCALE,
        "SIMULATION": cfg.model_dump_json(),
    }
    for date, when in zip(dates, (BEFORE_DATE, AFTER_DATE), strict=True):
        tags = {**common_tags, "ACQUISITION_DATE": when, "DATE_ROLE": date.role}
        atm_stats[date.role], means[date.role] = _write_date(
            cfg, lc, date, dem, paths[date.role], grid, tags, hidden, cloudy, say
        )
    say("mask: forest loss, unknown under clouds, shadows and nodata")
    mask = lc.loss.astype(np.uint8)
    mask[hidden] = MASK_UNKNOWN
    either_cloud = hidden.mean()
    mask_tags = {
        **common_tags,
        "VALUES": "0 no loss, 1 forest loss, 255 unknown (cloud, shadow, nodata)",
        "BEFORE_DATE": BEFORE_DATE,
        "AFTER_DATE": AFTER_DATE,
    }
    with mask_writer(paths["mask"], grid, tags=mask_tags) as w:
        w.write(mask)
    say(f"writing: {paths['quicklook'].name}")
    scene_quicklook(paths["quicklook"], paths["before"], paths["after"], paths["mask"])
    counts = np.bincount(mask.ravel(), minlength=256)
    stats: dict[str, Any] = {
        "generator": GENERATOR,
        "dates": {"before": BEFORE_DATE, "after": AFTER_DATE},
        "size": n,
        "pixel_size": PIXEL_SIZE,
        "bands": list(DEFAULT_BANDS),
        "crs": grid.crs.to_string(),
        "bounds": [round(v, 3) for v in grid.bounds],
        "transform": [round(v, 6) for v in tuple(grid.transform)[:6]],
        "land_cover": {"before": lc.shares("before"), "after": lc.shares("after")},
        "loss_share": lc.stats["loss_share"],
        "forest_fraction": lc.stats["forest_fraction"],
        "deforestation_rate": lc.stats["deforestation_rate"],
        "clearings": lc.stats["clearings"],
        "mask": {
            "no_loss_share": round(float(counts[0]) / n / n, 6),
            "loss_share": round(float(counts[1]) / n / n, 6),
            "unknown_share": round(float(counts[MASK_UNKNOWN]) / n / n, 6),
        },
        "unknown_share": round(float(counts[MASK_UNKNOWN]) / n / n, 6),
        "cloud_share": round(float(cloudy.mean()), 6),
        "hidden_share": round(float(either_cloud), 6),
        "atmosphere": atm_stats,
        "misregistration_px": {"rows": round(dates[1].shift[0], 4), "cols": round(dates[1].shift[1], 4)},
        "band_means": means,
    }
    summary = {
        "config": cfg.model_dump(mode="json"),
        "requested": config.model_dump(mode="json", exclude_none=True),
        **stats,
        "files": {k: p.name for k, p in paths.items()},
    }
    write_text_atomic(paths["summary_json"], json.dumps(summary, indent=2) + "\n")
    say(f"done: loss {stats['mask']['loss_share']:.1%}, unknown {stats['unknown_share']:.1%}")
    return SimulatedScene(
        paths["before"], paths["after"], paths["mask"], paths["quicklook"], paths["summary_json"], stats
    )
