"""Reflectance of one date: per-date radiometry, terrain illumination, haze, clouds and their
shadows, textures, the sensor's point-spread function, noise and misregistration."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from planet_sentinel.bands import DEFAULT_BANDS, NODATA
from planet_sentinel.sources.synthetic.config import HIDDEN_THRESHOLD, PIXEL_SIZE, SimulationConfig
from planet_sentinel.sources.synthetic.fields import blur_shift, fractal, resample, stream_rng, texture
from planet_sentinel.sources.synthetic.landcover import LandCover
from planet_sentinel.sources.synthetic.spectra import (
    CLOUD_SPECTRUM,
    HAZE_SPECTRUM,
    N_CLASSES,
    NOISE_BY_BAND,
    PASTURE_LIKE,
    PSF_SIGMA,
    SHADOW_DARKENING,
    VEGETATION,
    class_tables,
)


@dataclass
class Acquisition:
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


def acquisitions(cfg: SimulationConfig) -> tuple[Acquisition, Acquisition]:
    """Per-date spectra, radiometry, atmosphere strengths and geometry."""
    base, amp, fine, med = class_tables()
    rb, ra = stream_rng(cfg.seed, "before"), stream_rng(cfg.seed, "after")
    ph, ss = _knob(cfg.phenology), cfg.season_shift
    haze, cover, noise = _knob(cfg.haze), _knob(cfg.cloud_cover), _knob(cfg.noise)
    before = Acquisition(
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
    for c in VEGETATION:
        b_after[c, 3:] *= 1 + ph * ra.normal(0, 0.04, 3) + np.array([0.05, -0.04, -0.05]) * ss
    angle = ra.uniform(0, 2 * np.pi)
    mis = _knob(cfg.misregistration_px)
    after = Acquisition(
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
class Atmosphere:
    mult: np.ndarray  # terrain illumination x haze transmittance
    haze: np.ndarray | None  # 0..1 haze field x strength
    cloud: np.ndarray | None  # cloud opacity 0..1
    shadow: np.ndarray | None  # opacity of the cloud casting a shadow on each pixel
    nodata: np.ndarray | None
    hidden: np.ndarray  # cloud or shadow thick enough to hide the ground
    cloudy: np.ndarray | None  # cloud thick enough to hide the ground
    cloud_share: float
    shadow_share: float


def terrain(seed: int, n: int) -> np.ndarray:
    """Coarse (factor 8) elevation in metres: gently rolling terrain, slopes of a few degrees."""
    dem = fractal(stream_rng(seed, "terrain"), n, [(600.0, 1.0), (150.0, 0.5)], factor=8)
    dem = np.asarray(ndimage.gaussian_filter(dem, 3.0, mode="nearest"))
    gy, gx = np.gradient(dem, 8 * PIXEL_SIZE)
    slope = float(np.sqrt(gx * gx + gy * gy).std())
    return dem * (0.035 / max(slope, 1e-9))


def draw_atmosphere(cfg: SimulationConfig, date: Acquisition, dem: np.ndarray, mult: np.ndarray) -> Atmosphere:
    """Illumination, haze, cloud and shadow fields of one date, and the pixels they hide."""
    n = cfg.size
    rng = stream_rng(cfg.seed, date.role)
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
        h = fractal(rng, n, [(500.0, 1.0), (120.0, 0.5)], factor=16)
        h = (1 / (1 + np.exp(-1.8 * h))).astype(np.float32) * np.float32(date.haze)
        haze = resample(h, 16, 1, n, out=np.empty((n, n), np.float16), full=True)
        illum *= 1 - np.float32(0.15) * resample(h, 16, 8, illum.shape[0])
    resample(illum, 8, 1, n, out=mult, full=True)
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
        coarse = fractal(rng, ne, [(350.0, 0.6), (70.0, 0.7), (14.0, 0.3)], factor=4)
        inner = coarse[pad // 4 + 1 : (pad + n) // 4 + 1, pad // 4 + 1 : (pad + n) // 4 + 1]
        # opacity reaches HIDDEN_THRESHOLD on the cloud_cover quantile of the field
        t = float(np.quantile(inner, 1 - date.cloud_cover))
        soft = 0.5
        coarse = np.clip((coarse - np.float32(t)) / np.float32(soft) + HIDDEN_THRESHOLD, 0, 1)
        ext = resample(coarse, 4, 1, ne, out=np.empty((ne, ne), np.float16), full=True)
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
    return Atmosphere(mult, haze, cloud, shadow, nodata, hidden, cloudy, cloud_share, shadow_share)


def variation_field(
    cfg: SimulationConfig, lc: LandCover, cls: np.ndarray, date: Acquisition, out: np.ndarray, tmp: np.ndarray
) -> None:
    """Per-pixel variation field of one date: texture weighted by class, plus parcel condition."""
    n = cfg.size
    medium = np.empty((n, n), np.float32)
    texture(cfg.seed, n, out, medium)  # out = fine texture
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
        lut[list(PASTURE_LIKE)] = date.cond_shift
        np.take(lut, cls, out=tmp, mode="wrap")
        out += tmp


def render_bands(
    cfg: SimulationConfig,
    lc: LandCover,
    date: Acquisition,
    atm: Atmosphere,
    variation: np.ndarray,
    bufs: tuple[np.ndarray, np.ndarray],
    out: np.ndarray,
    write: Callable[[np.ndarray, int], None],
) -> dict[str, float]:
    """Compute each band of one date in float32 and hand it to ``write`` as uint16."""
    n = cfg.size
    cls = lc.before if date.role == "before" else lc.after
    a, b = bufs
    rng = stream_rng(cfg.seed, date.role)
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
        blur_shift(a, b, PSF_SIGMA, *date.shift)
        if atm.shadow is not None:
            np.multiply(atm.shadow, -SHADOW_DARKENING[k], out=b)
            b += 1
            a *= b
        if atm.haze is not None:
            np.multiply(atm.haze, HAZE_SPECTRUM[k], out=b)
            a += b
        if atm.cloud is not None:
            np.multiply(atm.cloud, np.float32(0.15) * CLOUD_SPECTRUM[k], out=b)
            b += np.float32(0.85) * CLOUD_SPECTRUM[k]
            b -= a
            b *= atm.cloud
            a += b
        if date.noise > 0:
            scale = np.float32(date.noise * NOISE_BY_BAND[k] / 104.5)
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
