"""Geometry of the frontier in pixel coordinates: meandering rivers, fishbone roads, parcels."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from planet_sentinel.sources.synthetic.fields import stream_rng
from planet_sentinel.sources.synthetic.spectra import LandClass


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


def road_path(
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


def in_view(pts: np.ndarray, n: int, margin: float) -> bool:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return bool(hi[0] >= -margin and hi[1] >= -margin and lo[0] <= n + margin and lo[1] <= n + margin)


def strip(pts: np.ndarray, widths: np.ndarray | float, n: int, chunk: int = 12) -> list[Any]:
    """A (variable-width) buffered polyline as shapely polygons, constant width per chunk."""
    from shapely import LineString

    w = np.broadcast_to(np.asarray(widths, dtype=float), (len(pts),))
    polys = []
    for a in range(0, len(pts) - 1, chunk):
        seg = pts[a : a + chunk + 1]
        width = float(w[a : a + chunk + 1].mean())
        if len(seg) < 2 or width <= 0 or not in_view(seg, n, width + 2):
            continue
        polys.append(LineString(seg).buffer(width / 2, quad_segs=3))
    return polys


def burn(
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


def polygon(corners: np.ndarray) -> dict[str, Any]:
    ring = corners.tolist()
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def blob(rng: np.random.Generator, centre: np.ndarray, radius: float, k: int = 9) -> dict[str, Any]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = radius * rng.uniform(0.65, 1.3, k)
    return polygon(centre + np.stack([np.cos(ang) * r, np.sin(ang) * r], axis=1))


@dataclass
class River:
    bed: list[Any]
    water_before: list[Any]
    water_after: list[Any]
    buffer: list[Any]
    theta: float


def draw_rivers(seed: int, n: int) -> River:
    rng = stream_rng(seed, "rivers")
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
    bed: list[Any] = []
    wb: list[Any] = []
    wa: list[Any] = []
    buf: list[Any] = []
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
        bed += strip(pts, w, n)
        for frac, out in ((before, wb), (after, wa)):
            shift = (-(1 - frac) * w / 2 * bend)[:, None] * nrm
            out += strip(pts + shift, w * frac, n)
        buf += strip(pts, w + buffer_w, n)
    return River(bed, wb, wa, buf, theta)


@dataclass
class Roads:
    mains: list[tuple[np.ndarray, np.ndarray]]  # points, headings
    sides: list[tuple[np.ndarray, np.ndarray, float]]  # points, headings, spacing
    main_width: float = 2.6
    side_width: float = 1.5

    def shapes(self, n: int) -> list[Any]:
        polys = []
        for pts, _ in self.mains:
            polys += strip(pts, self.main_width, n, chunk=30)
        for pts, _, _ in self.sides:
            polys += strip(pts, self.side_width, n, chunk=30)
        return polys

    def vertices(self) -> np.ndarray:
        return np.concatenate([p[::4] for p, _ in self.mains] + [p[::4] for p, _, _ in self.sides])


def draw_roads(seed: int, n: int, river_theta: float) -> Roads:
    """Main roads (one per ~40 km of scene) with side roads at right angles every 2-4 km."""
    rng = stream_rng(seed, "roads")
    theta = river_theta + rng.uniform(0.9, 2.2) * rng.choice([-1.0, 1.0])
    perp = np.array([-math.sin(theta), math.cos(theta)])
    k = 1 + n // 4096
    roads = Roads([], [])
    step = 4.0
    length = 3.2 * n + 800
    for j in range(k):
        offset = ((j + 0.5) / k - 0.5) * 0.9 * n + rng.uniform(-0.2, 0.2) * n / k
        centre = np.array([n / 2, n / 2]) + perp * offset + rng.uniform(-0.1, 0.1, 2) * n
        pts, heads = road_path(rng, np.zeros(2), theta + rng.normal(0, 0.12), length, 0.1, 600)
        pts += centre - pts[len(pts) // 2]
        roads.mains.append((pts, heads))
        spacing = rng.uniform(220, 340)
        side_len = {1.0: rng.uniform(0.4, 1.3), -1.0: rng.uniform(0.4, 1.3)}
        s = rng.uniform(0, spacing)
        while s < length - step:
            i = int(s / step)
            gap = spacing * rng.uniform(0.75, 1.25)
            if in_view(pts[i : i + 1], n, 0.6 * n + 1500):
                for side in (1.0, -1.0):
                    if rng.random() > 0.85:
                        continue
                    h = heads[i] + side * np.pi / 2 + rng.normal(0, 0.1)
                    ln = rng.uniform(250, 1400) * side_len[side]
                    sp, sh = road_path(rng, pts[i], h, ln, 0.06, 200)
                    if in_view(sp, n, 50):
                        roads.sides.append((sp, sh, spacing))
            s += gap
    return roads


@dataclass
class Lots:
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


def frames_along(
    pts: np.ndarray, heads: np.ndarray, positions: np.ndarray, side: float, offset: float, step: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = np.clip((positions / step).astype(int), 0, len(pts) - 1)
    t = np.stack([np.cos(heads[i]), np.sin(heads[i])], axis=1)
    nrm = side * np.stack([-t[:, 1], t[:, 0]], axis=1)
    return pts[i] + nrm * offset, t, nrm


def draw_lots(seed: int, n: int, roads: Roads) -> Lots:
    rng = stream_rng(seed, "lots")
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
            p, t, nrm = frames_along(pts, heads, pos, side, offset)
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
        return Lots(z2, z2, z2, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 4, 2)), np.zeros(0, np.uint8))
    arr = {k: np.concatenate(v) for k, v in parts.items()}
    m = len(arr["p"])
    return Lots(
        arr["p"],
        arr["t"],
        arr["nrm"],
        arr["width"],
        arr["dmax"],
        arr["age"],
        rng.normal(0, 1.5, (m, 4, 2)),
        arr["cls"].astype(np.uint8),
    )
