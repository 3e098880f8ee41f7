"""The before and after land-cover maps (:func:`land_cover`) of one configuration."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planet_sentinel.sources.synthetic.clearings import KEEP_OUTLINE, LOSS_SHARES, Event, loss_events, select_events
from planet_sentinel.sources.synthetic.config import SimulationConfig
from planet_sentinel.sources.synthetic.fields import fractal, max_filter, ragged, stream_rng
from planet_sentinel.sources.synthetic.geometry import (
    Lots,
    River,
    Roads,
    burn,
    draw_lots,
    draw_rivers,
    draw_roads,
    polygon,
)
from planet_sentinel.sources.synthetic.spectra import CLASS_NAMES, N_CLASSES, LandClass

log = logging.getLogger(__name__)


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


def fit_clearing(lots: Lots, n: int, target: float, river_bed: list[Any], buffer: list[Any]) -> np.ndarray:
    """Cleared depth of each parcel so that the non-forest share is close to ``target``.

    Depth = dmax x min(1, s x age); the global scale s is found by bisection on a coarse raster.
    """
    factor = max(1, n // 512)
    m = -(-n // factor)
    bed = burn(((g, 1) for g in river_bed), n, factor=factor).astype(bool)
    protected = burn(((g, 1) for g in buffer), n, factor=factor).astype(bool) & ~bed
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
        burn(((polygon(c), 1) for c in corners), n, factor=factor, out=r)
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


def land_cover(config: SimulationConfig) -> LandCover:
    """The before and after land cover of a configuration (deterministic for its seed)."""
    cfg = config.resolved()
    n, seed = cfg.size, cfg.seed
    river = draw_rivers(seed, n)
    roads = draw_roads(seed, n, river.theta)
    lots = draw_lots(seed, n, roads)
    lots.depth = fit_clearing(lots, n, 1.0 - cfg.forest_fraction, river.bed, river.buffer)
    log.info(f"land cover: {len(roads.sides)} side roads, {int((lots.depth >= 6).sum())} cleared parcels")

    work = np.empty((n, n), np.float32)
    tmp = np.empty((n, n), np.float32)
    medium = np.empty((n, n), np.float32)
    fractal(stream_rng(seed, "edges"), n, [(4.0, 0.8), (25.0, 0.6)], out=medium)
    rng = stream_rng(seed, "changes")  # parcels first, then their conditions: one stream, this order
    parcel, parcel_cls = _parcels(rng, n, lots, medium, work, tmp)
    before, road = _before_classes(n, parcel, parcel_cls, river, roads)
    after, cond_before, cond_after = _after_classes(rng, n, parcel, parcel_cls, before, river, road)
    del road

    # Forest loss.
    forest = before == LandClass.FOREST
    n_forest = int(forest.sum())
    budget = float(cfg.deforestation_rate or 0.0) * n_forest  # resolved() always sets the rate
    events = loss_events(stream_rng(seed, "events"), n, lots, roads, budget)
    log.info(f"land cover: {len(events)} candidate clearings for {budget / n / n:.1%} loss")
    chosen = _choose_events(n, events, forest, budget)
    lcls, outline = _loss_classes(n, events, chosen)
    rough = ragged(outline, np.roll(medium, (97, 131), axis=(0, 1)), work, tmp, 1.2, 0.25)
    del work, tmp, medium
    loss = _apply_loss(after, forest, lcls, outline, rough)
    del lcls, outline, rough
    stats = {
        "forest_fraction": round(n_forest / (n * n), 6),
        "loss_share": round(float(loss.mean()), 6),
        "deforestation_rate": round(float(loss.sum()) / max(n_forest, 1), 6),
        "side_roads": len(roads.sides),
        "parcels": len(parcel_cls) - 1,
        "clearings": {
            c: int(sum(1 for e, k in zip(events, chosen, strict=True) if k and e.category == c)) for c in LOSS_SHARES
        },
    }
    return LandCover(before, after, loss, parcel, cond_before, cond_after, stats)


def _parcels(
    rng: np.random.Generator, n: int, lots: Lots, medium: np.ndarray, work: np.ndarray, tmp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Parcel ids (the cleared part of each lot, plus regrowth at the back of some pastures) and
    each id's class (index 0: forest)."""
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
    shapes += [(polygon(c), i + 1) for i, c in enumerate(corners)]
    d_back = lots.depth[back]
    corners = lots.corners(d_back * rng.uniform(0.5, 0.8, len(back)), d_back, idx=back)
    shapes += [(polygon(c), m + i + 1) for i, c in enumerate(corners)]
    parcel = burn(shapes, n, dtype=parcel_dtype)
    cleared = parcel > 0
    keep = ragged(cleared, medium, work, tmp)
    grown = keep & ~cleared
    parcel[grown] = max_filter(parcel, 2)[grown]
    parcel[~keep] = 0
    return parcel, parcel_cls


def _before_classes(
    n: int, parcel: np.ndarray, parcel_cls: np.ndarray, river: River, roads: Roads
) -> tuple[np.ndarray, np.ndarray]:
    """The before map (parcels, the standing riparian buffer, river, roads) and the road pixels;
    ``parcel`` loses the pixels they cover."""
    before = parcel_cls[parcel]
    river_b = burn([(g, 1) for g in river.bed] + [(g, 2) for g in river.water_before], n)
    protected = burn([(g, 1) for g in river.buffer], n).astype(bool)
    protected &= river_b == 0
    before[protected & (before != LandClass.FOREST)] = LandClass.FOREST
    parcel[protected] = 0
    del protected
    road = burn(((g, 1) for g in roads.shapes(n)), n).astype(bool)
    before[river_b == 1] = LandClass.SAND
    before[river_b == 2] = LandClass.WATER
    before[road] = LandClass.ROAD
    parcel[(river_b > 0) | road] = 0
    return before, road


def _after_classes(
    rng: np.random.Generator,
    n: int,
    parcel: np.ndarray,
    parcel_cls: np.ndarray,
    before: np.ndarray,
    river: River,
    road: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parcel conditions of both dates and the non-forest changes between them (pasture to bare
    soil or burnt, bare soil to pasture, another river level): the after map before any loss."""
    n_parcels = len(parcel_cls) - 1
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
    river_a = burn([(g, 1) for g in river.bed] + [(g, 2) for g in river.water_after], n)
    after[river_a == 1] = LandClass.SAND
    after[river_a == 2] = LandClass.WATER
    after[road] = LandClass.ROAD
    return after, cond_before, cond_after


def _choose_events(n: int, events: list[Event], forest: np.ndarray, budget: float) -> np.ndarray:
    """Which candidate events are cleared: each one's forest pixels (first event drawn wins)."""
    ev = burn(((g, i + 1) for i, e in reversed(list(enumerate(events))) for g, _ in e.shapes), n, dtype="uint32")
    ev[~forest] = 0
    counts = np.bincount(ev.ravel(), minlength=len(events) + 1)
    del ev
    return select_events(counts, events, budget)


def _loss_classes(n: int, events: list[Event], chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The after classes of the chosen events (roads drawn last) and where outlines get roughened."""
    order = [e for e, c in zip(events, chosen, strict=True) if c and e.category != "road"]
    order += [e for e, c in zip(events, chosen, strict=True) if c and e.category == "road"]
    lcls = burn((s for e in order for s in e.shapes), n)
    return lcls, (lcls > 0) & (lcls < KEEP_OUTLINE)


def _apply_loss(
    after: np.ndarray, forest: np.ndarray, lcls: np.ndarray, outline: np.ndarray, rough: np.ndarray
) -> np.ndarray:
    """Write the loss classes into ``after`` (rough outlines grown into the forest); the loss map."""
    grown = rough & ~outline & forest
    lcls[grown] = max_filter(np.where(outline, lcls, 0).astype(np.uint8), 2)[grown]
    loss = forest & ((rough & (lcls > 0)) | (lcls >= KEEP_OUTLINE))
    after[loss] = lcls[loss] & (KEEP_OUTLINE - 1)
    return loss
