"""Random streams (one per purpose, all from one seed), smooth noise fields and fast filters.

Smooth fields are drawn on coarse grids and upsampled; filters work in place on reused
float32 buffers, so an 8192 x 8192 scene fits in a few gigabytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

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


def stream_rng(seed: int, stream: str) -> np.random.Generator:
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


def resample(
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


def fractal(
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
            acc = resample(acc, acc_f, f, layer.shape[0]) + layer
            acc_f = f
    assert acc is not None
    norm = np.float32(1.0 / math.sqrt(sum(w * w for _, w in octaves)))
    acc *= norm
    if factor is not None:
        if acc_f == factor:
            return acc
        return resample(acc, acc_f, factor, n // factor + 3)
    if acc_f == 1:
        if out is None:
            return acc[:n, :n].copy()
        out[...] = acc[:n, :n]
        return out
    return resample(acc, acc_f, 1, n, out=out, full=True)


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


def blur_shift(a: np.ndarray, tmp: np.ndarray, sigma: float, dy: float = 0.0, dx: float = 0.0) -> None:
    """Gaussian blur of ``a`` in place that also moves its content by (dy, dx) pixels."""
    wx, ox = _gauss_kernel(sigma, dx)
    # correlate1d's origin-free weights are centred; pad to an odd symmetric support.
    span = int(max(abs(ox.min()), abs(ox.max())))
    full = np.zeros(2 * span + 1, np.float32)
    full[ox + span] = wx
    ndimage.correlate1d(a, full, axis=1, output=tmp, mode="nearest")
    wy, oy = _gauss_kernel(sigma, dy)
    _filter_rows(tmp, wy, oy, a)


def max_filter(a: np.ndarray, radius: int) -> np.ndarray:
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


def ragged(
    binary: np.ndarray, noise: np.ndarray, work: np.ndarray, tmp: np.ndarray, sigma: float = 1.3, amount: float = 0.25
) -> np.ndarray:
    """Roughen the outline of a binary map: blur, add correlated noise, threshold at 1/2."""
    np.copyto(work, binary, casting="unsafe")
    blur_shift(work, tmp, sigma)
    np.multiply(noise, np.float32(amount), out=tmp)
    work += tmp
    return work > 0.5


def texture(seed: int, n: int, fine: np.ndarray, medium: np.ndarray) -> None:
    """The ground's texture fields (identical on both dates): per-pixel and ~3-40 px."""
    rng = stream_rng(seed, "texture")
    chunk = 512
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        u = rng.integers(0, 256, (2, b - a, n), dtype=np.uint8)
        np.add(u[0], u[1], out=fine[a:b], dtype=np.float32)
    fine -= np.float32(255.0)
    fine *= np.float32(1 / 104.5)
    fractal(rng, n, [(3.0, 0.8), (40.0, 0.4)], out=medium)
