"""Forest-loss events of the after date: fishbone clearings, blocky conversions, road
extensions and selective logging, chosen to fill each kind's share of the loss budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planet_sentinel.sources.synthetic.geometry import (
    Lots,
    Roads,
    blob,
    frames_along,
    in_view,
    polygon,
    road_path,
    strip,
)
from planet_sentinel.sources.synthetic.spectra import CLEARED, CLEARED_P, LandClass


@dataclass
class Event:
    category: str
    shapes: list[tuple[Any, int]]  # (geometry, class code | 128 when the outline stays as drawn)


KEEP_OUTLINE = 128


def loss_events(rng: np.random.Generator, n: int, lots: Lots, roads: Roads, budget: float) -> list[Event]:
    """Candidate clearings of four kinds, each pool a few times larger than its share, in random order.

    The kinds draw from ``rng`` one after the other, in this order (the same seed, the same events).
    """
    events = _fishbone(rng, n, lots)
    events += _blocky(rng, n, lots, roads, budget)
    events += _road_extensions(rng, n, roads)
    events += _logging(rng, n, roads, budget)
    return [events[i] for i in rng.permutation(len(events))]


def _cleared_class(rng: np.random.Generator) -> int:
    """The class a cleared patch of forest becomes."""
    return int(rng.choice(CLEARED, p=CLEARED_P))


def _fishbone(rng: np.random.Generator, n: int, lots: Lots) -> list[Event]:
    """Parcels cleared deeper (or for the first time) back from the road."""
    events = []
    near = np.flatnonzero(np.all((lots.p > -100) & (lots.p < n + 100), axis=1) & (lots.depth < lots.dmax - 4))
    rng.shuffle(near)
    for i in near:
        d0 = lots.depth[i]
        d1 = min(lots.dmax[i], d0 + rng.uniform(15, 80))
        u0, u1 = (0.0, 1.0) if rng.random() < 0.5 else sorted(rng.uniform(0, 1, 2))
        if u1 - u0 < 0.4:
            u0, u1 = 0.0, 1.0
        c = lots.corners(np.array([d0]), np.array([d1]), u0, u1, idx=np.array([i]))[0]
        events.append(Event("fishbone", [(polygon(c), _cleared_class(rng))]))
    return events


def _blocky(rng: np.random.Generator, n: int, lots: Lots, roads: Roads, budget: float) -> list[Event]:
    """Blocky pasture conversion: rectangles behind parcels or standing alone near roads."""
    events = []
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
        if not in_view(c, n, 0):
            area += 0.2 * w * h
            continue
        events.append(Event("blocky", [(polygon(c), _cleared_class(rng))]))
        area += w * h
    return events


def _road_extensions(rng: np.random.Generator, n: int, roads: Roads) -> list[Event]:
    """Side roads pushed further into the forest, with the first clearings along them."""
    events = []
    for sp, sh, _ in roads.sides:
        end, head = sp[-1], sh[-1]
        if not in_view(sp[-1:], n, 200):
            continue
        ext, eh = road_path(rng, end, head, rng.uniform(150, 600), 0.06, 200)
        shapes = [(g, int(LandClass.ROAD) | KEEP_OUTLINE) for g in strip(ext, roads.side_width, n)]
        length = (len(ext) - 1) * 4.0
        for side in (1.0, -1.0):
            pos = np.arange(10.0, length - 30, rng.uniform(25, 45))
            pos = pos[rng.random(len(pos)) < 0.55]
            if not len(pos):
                continue
            p, t, nrm = frames_along(ext, eh, pos, side, roads.side_width / 2 + 0.5)
            w = rng.uniform(22, 40, len(pos))[:, None]
            d = rng.uniform(20, 70, len(pos))[:, None]
            for c in np.stack([p, p + t * w, p + t * w + nrm * d, p + nrm * d], axis=1):
                shapes.append((polygon(c + rng.normal(0, 1.2, c.shape)), _cleared_class(rng)))
        events.append(Event("road", shapes))
    return events


def _logging(rng: np.random.Generator, n: int, roads: Roads, budget: float) -> list[Event]:
    """Selective logging: clusters of small canopy gaps, a log deck or two and a skid trail."""
    events = []
    verts = roads.vertices()
    area, want = 0.0, 4 * 0.12 * budget + 3000
    while area < want:
        centre = rng.uniform(0.05, 0.95, 2) * n
        spread = rng.uniform(40, 90)
        shapes = []
        for _ in range(int(rng.integers(12, 40))):
            r = rng.uniform(1.5, 7.5)
            shapes.append((blob(rng, centre + rng.normal(0, spread, 2), r), int(LandClass.LOGGED) | KEEP_OUTLINE))
            area += np.pi * r * r
        for _ in range(int(rng.integers(1, 3))):
            r = rng.uniform(3.5, 6)
            shapes.append((blob(rng, centre + rng.normal(0, spread / 3, 2), r), int(LandClass.BARE) | KEEP_OUTLINE))
        dist = np.hypot(*(verts - centre).T)
        j = int(np.argmin(dist))
        if dist[j] < 600:
            vec = centre - verts[j]
            tp, _ = road_path(rng, verts[j], math.atan2(vec[1], vec[0]), float(dist[j]), 0.15, 80)
            shapes += [(g, int(LandClass.LOGGED) | KEEP_OUTLINE) for g in strip(tp, 1.0, n)]
        events.append(Event("logging", shapes))
    return events


LOSS_SHARES = {"fishbone": 0.40, "blocky": 0.33, "road": 0.15, "logging": 0.12}


def select_events(counts: np.ndarray, events: list[Event], budget: float) -> np.ndarray:
    """Greedy choice of events (in their random order) filling each category's share."""
    chosen = np.zeros(len(events), bool)
    used = dict.fromkeys(LOSS_SHARES, 0.0)
    total = 0.0
    for i, ev in enumerate(events):
        c = float(counts[i + 1])
        if c > 0 and used[ev.category] + c <= LOSS_SHARES[ev.category] * budget:
            chosen[i] = True
            used[ev.category] += c
            total += c
    for i in range(len(events)):
        c = float(counts[i + 1])
        if not chosen[i] and c > 0 and total + c <= budget:
            chosen[i] = True
            total += c
    return chosen
