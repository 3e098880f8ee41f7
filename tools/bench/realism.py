"""`python -m tools bench realism`: the simulated scene against real Amazon forest (issue #17).

The simulator is what the demo trains on and what every offline test uses, so its forest must look
like real forest to the statistics we can check. Prints one JSON line comparing:

* **Simulated side**: the demo's scene (``SimulationConfig(name="demo", size=2048, seed=7)``, as
  :func:`planet_sentinel.demo.run_demo` draws it; ``--size`` for a smaller one), both dates, its
  own land cover (:func:`~planet_sentinel.sources.synthetic.land_cover`): forest is the primary
  forest class, non-forest every cleared class (pasture, bare soil, road, slash, burn scar, early
  pasture, secondary regrowth: what a cumulative deforestation label calls deforested); pixels the
  mask calls unknown (cloud, shadow, nodata) are left out.
* **Real side**: the MultiEarth Sentinel-2 chips (``--data``, default ../shared/data:
  ``multiearth-sample``) that have a hand-drawn deforestation label of the same place within 30
  days (``deforestation/``: 0 forest, 1 deforested), so forest and non-forest are the label, not a
  spectral proxy (the chips carry no near-infrared band, so no NDVI threshold could be used).
  Cloud-free chips only: QA60 bits 10 (opaque) and 11 (cirrus) must be clear, and because the
  sample's QA60 is empty on every chip, even on the visibly cloudy ones, a chip also counts as
  cloudy when more than 5 % of its forest pixels are brighter in B04 than 0.07, Sen2Cor's first
  cloud threshold on the red band (Sen2Cor L2A ATBD, S2-PDGS-MPC-ATBD-L2A, cloud detection step 1:
  pixels with red reflectance below T1 = 0.07 are never cloud; clear tropical forest is ~0.02).

On both sides class pixels 3 px (30 m) or less from another class are dropped (mixed pixels, label
outlines drawn by hand). Figures, per band B02 B03 B04, with the drift monitor's own statistics
(:mod:`planet_sentinel.drift.statistics`):

* ``wasserstein``: the first Wasserstein distance between the simulated and the real pixels of a
  class divided by the real pixels' standard deviation (the monitor's normalisation);
* ``psi``: the population stability index on the baseline's fixed 0.01 reflectance bins
  (:data:`planet_sentinel.baseline.REFLECTANCE_EDGES`);
* ``texture``: the semivariogram of forest canopy, ``gamma(h) = mean (z(x) - z(x + h))^2 / 2`` over
  row and column pairs both inside the forest, at lags of 1, 2, 5 and 10 px (10-100 m), and the
  ratio simulated / real.

Goal (``meets_goal``): for forest, W < 0.1 and PSI < 0.1 in every band, and every texture ratio
within 20 % of 1. The non-forest figures are reported beside them (a mixture of land covers whose
shares differ from scene to scene, so they are a check, not the goal).
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from tools.bench.measure import default_workdir, emit

DEFAULT_SIZE = 2048  # the demo's training scene (planet_sentinel.demo.DemoConfig.size)
SEED = 7  # the demo's seed (DemoConfig.seed)
BANDS = ("B02", "B03", "B04")
LAGS_PX = (1, 2, 5, 10)
EDGE_PX = 3
#: Sen2Cor's red-band cloud threshold T1 (reflectance 0.07, x10000) and the share of a chip's forest
#: pixels above it that makes the chip cloudy.
CLOUD_B04 = 700
CLOUDY_SHARE = 0.05
#: QA60 bit 10: opaque clouds, bit 11: cirrus (Sentinel-2 L1C/L2A QA60 band).
QA60_CLOUD_BITS = 1 << 10 | 1 << 11
LABEL_DAYS = 30
#: Simulated pixels this close to a hidden one (cloud, shadow) are left out: the soft edges of the
#: simulator's clouds, thin but not hidden, have no counterpart in the cloud-free real chips.
CLOUD_MARGIN_PX = 40
GOAL = {"wasserstein": 0.1, "psi": 0.1, "texture_ratio": 0.2}
FOREST, NON_FOREST = 1, 2

_CHIP_RE = re.compile(
    r"Sentinel2_(?P<band>B\d+|QA60)_(?P<place>-?\d+\.\d+_-?\d+\.\d+)_(?P<date>\d{4}_\d{2}_\d{2})\.tiff$"
)
_LABEL_RE = re.compile(r"Deforestation_(?P<place>-?\d+\.\d+_-?\d+\.\d+)_(?P<date>\d{4}_\d{2}_\d{2})\.tiff$")


@dataclass
class Side:
    """One side of the comparison: images (bands B02 B03 B04, float32) and their class maps
    (0 left out, 1 forest, 2 non-forest, both eroded by :data:`EDGE_PX`)."""

    images: list[np.ndarray] = field(default_factory=list)
    classes: list[np.ndarray] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, image: np.ndarray, forest: np.ndarray, non_forest: np.ndarray, valid: np.ndarray) -> None:
        cls = np.zeros(forest.shape, np.uint8)
        cls[_interior(forest, valid)] = FOREST
        cls[_interior(non_forest, valid)] = NON_FOREST
        self.images.append(image.astype(np.float32))
        self.classes.append(cls)

    def pixels(self, band: int, cls: int) -> np.ndarray:
        return np.concatenate([img[band][c == cls] for img, c in zip(self.images, self.classes, strict=True)])

    def count(self, cls: int) -> int:
        return int(sum((c == cls).sum() for c in self.classes))


def _interior(region: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` farther than EDGE_PX from anything outside it or invalid."""
    from scipy import ndimage

    keep = region & valid
    return np.asarray(ndimage.binary_erosion(keep, np.ones((3, 3), bool), iterations=EDGE_PX, border_value=0))


def _near(region: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` px of ``region`` (a square dilation, as separable maximum filters)."""
    from scipy import ndimage

    return np.asarray(ndimage.maximum_filter(region, size=2 * radius + 1, mode="constant", cval=False))


def _day(text: str) -> date:
    y, m, d = (int(v) for v in text.split("_"))
    return date(y, m, d)


def _read(path: Path) -> np.ndarray:
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            return np.asarray(ds.read(1))


def real_side(data: Path) -> Side:
    """Cloud-free MultiEarth chips with a deforestation label of the same place (module docstring)."""
    root = data / "multiearth-sample"
    labels = {
        m["place"]: (m["date"], f) for f in sorted((root / "deforestation").iterdir()) if (m := _LABEL_RE.match(f.name))
    }
    chips: dict[tuple[str, str], dict[str, Path]] = {}
    for f in sorted((root / "sent2").iterdir()):
        if m := _CHIP_RE.match(f.name):
            chips.setdefault((m["place"], m["date"]), {})[m["band"]] = f
    side = Side(notes={"used": [], "cloudy": [], "unlabelled": 0})
    for (place, when), files in sorted(chips.items()):
        label = labels.get(place)
        if (
            label is None
            or abs((_day(when) - _day(label[0])).days) > LABEL_DAYS
            or not {"B2", "B3", "B4"} <= set(files)
        ):
            side.notes["unlabelled"] += 1
            continue
        image = np.stack([_read(files[b]) for b in ("B2", "B3", "B4")])
        forest = _read(label[1]) == 0
        clear = (_read(files["QA60"]) & QA60_CLOUD_BITS) == 0 if "QA60" in files else np.ones(forest.shape, bool)
        bright = float((image[2][forest & clear] > CLOUD_B04).mean()) if (forest & clear).any() else 1.0
        if bright > CLOUDY_SHARE or clear.mean() < 1 - CLOUDY_SHARE:
            side.notes["cloudy"].append({"chip": f"{place}_{when}", "bright_forest_share": round(bright, 4)})
            continue
        side.notes["used"].append(f"{place}_{when}")
        side.add(image, forest, ~forest, clear & (image > 0).all(axis=0))
    if not side.images:
        raise SystemExit(f"no cloud-free labelled MultiEarth chip under {root}: {side.notes}")
    return side


def simulated_side(work: Path, size: int, seed: int = SEED) -> Side:
    """The demo's scene, both dates, with the simulator's own land cover."""
    from planet_sentinel.sources.synthetic import LandClass, SimulationConfig, land_cover, simulate_scene

    config = SimulationConfig(name="demo", size=size, seed=seed)
    scene = simulate_scene(config, work / "simulated", overwrite=True)
    lc = land_cover(config)
    mask = _read(scene.mask)
    cleared = [
        LandClass.SECONDARY,
        LandClass.PASTURE,
        LandClass.BARE,
        LandClass.ROAD,
        LandClass.SLASH,
        LandClass.BURN,
        LandClass.EARLY_PASTURE,
    ]
    side = Side(notes={"config": config.model_dump(mode="json", include={"name", "size", "seed", "difficulty"})})
    import rasterio

    for path, classes in ((scene.before, lc.before), (scene.after, lc.after)):
        with rasterio.open(path) as ds:
            names = list(ds.descriptions)
            image = np.stack([ds.read(names.index(b) + 1) for b in BANDS])
        valid = ~_near(mask == 255, CLOUD_MARGIN_PX) & (image > 0).all(axis=0)
        side.add(image, classes == LandClass.FOREST, np.isin(classes, cleared), valid)
    return side


def distribution(sim: Side, real: Side, cls: int) -> dict[str, dict[str, float]]:
    """Per band: normalised Wasserstein and PSI of the simulated against the real pixels of ``cls``."""
    from planet_sentinel.baseline import REFLECTANCE_EDGES
    from planet_sentinel.drift.statistics import psi, wasserstein_normalised

    out = {}
    for k, band in enumerate(BANDS):
        s, r = sim.pixels(k, cls), real.pixels(k, cls)
        values = np.arange(65536, dtype=np.float64)
        sc = np.bincount(np.clip(s, 0, 65535).astype(np.int64), minlength=65536)
        rc = np.bincount(np.clip(r, 0, 65535).astype(np.int64), minlength=65536)
        hist_s = np.add.reduceat(sc, REFLECTANCE_EDGES[:-1])
        hist_r = np.add.reduceat(rc, REFLECTANCE_EDGES[:-1])
        out[band] = {
            "wasserstein": round(wasserstein_normalised(values, values, float(r.std()), rc, sc), 4),
            "psi": round(psi(hist_r, hist_s), 4),
            "sim_median": float(np.median(s)),
            "real_median": float(np.median(r)),
            "sim_std": round(float(s.std()), 1),
            "real_std": round(float(r.std()), 1),
        }
    return out


def semivariogram(side: Side, band: int, lags: tuple[int, ...] = LAGS_PX) -> dict[int, float]:
    """gamma(h) of the forest pixels: half the mean squared difference of row and column pairs h
    pixels apart that are both forest, pooled over the side's images."""
    out = {}
    for h in lags:
        total, pairs = 0.0, 0
        for img, cls in zip(side.images, side.classes, strict=True):
            z, f = img[band].astype(np.float64), cls == FOREST
            for a, b, fa, fb in (
                (z[h:], z[:-h], f[h:], f[:-h]),
                (z[:, h:], z[:, :-h], f[:, h:], f[:, :-h]),
            ):
                both = fa & fb
                d = (a - b)[both]
                total += float((d * d).sum())
                pairs += int(both.sum())
        out[h] = total / (2 * pairs) if pairs else float("nan")
    return out


def texture(sim: Side, real: Side) -> dict[str, dict[str, Any]]:
    """Per band: the forest semivariogram of both sides at each lag (in metres) and their ratio."""
    out = {}
    for k, band in enumerate(BANDS):
        gs, gr = semivariogram(sim, k), semivariogram(real, k)
        out[band] = {
            f"{10 * h}m": {"sim": round(gs[h], 1), "real": round(gr[h], 1), "ratio": round(gs[h] / gr[h], 3)}
            for h in LAGS_PX
        }
    return out


def run(size: int | None = None, workdir: str | None = None, data: str | None = None) -> dict[str, Any]:
    size = size or DEFAULT_SIZE
    work = Path(workdir) if workdir else default_workdir("realism")
    work.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data) if data else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (data_dir / "multiearth-sample").is_dir():
        raise SystemExit(f"the MultiEarth sample is not under {data_dir} (--data)")
    start = time.perf_counter()
    real = real_side(data_dir)
    sim = simulated_side(work, size)
    forest = distribution(sim, real, FOREST)
    non_forest = distribution(sim, real, NON_FOREST)
    tex = texture(sim, real)
    worst_w = max(v["wasserstein"] for v in forest.values())
    worst_psi = max(v["psi"] for v in forest.values())
    worst_tex = max(abs(lag["ratio"] - 1) for band in tex.values() for lag in band.values())
    result = {
        "bench": "realism",
        "forest_wasserstein_max": worst_w,
        "forest_psi_max": worst_psi,
        "texture_ratio_off_max": round(worst_tex, 3),
        "forest": forest,
        "non_forest": non_forest,
        "texture": tex,
        "pixels": {
            "sim": {"forest": sim.count(FOREST), "non_forest": sim.count(NON_FOREST)},
            "real": {"forest": real.count(FOREST), "non_forest": real.count(NON_FOREST)},
        },
        "real_chips": real.notes,
        "simulation": sim.notes["config"],
        "seconds": round(time.perf_counter() - start, 1),
    }
    return emit(
        result,
        at_most={"forest_wasserstein_max": 0.1, "forest_psi_max": 0.1, "texture_ratio_off_max": 0.2},
        exact={"forest_wasserstein_max": worst_w, "forest_psi_max": worst_psi, "texture_ratio_off_max": worst_tex},
    )
