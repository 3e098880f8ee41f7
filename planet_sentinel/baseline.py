"""The baseline (``sentinel baseline``): what the training data looked like, summarised once.

Training normalises its inputs with the per-band means and deviations; the drift monitor
(:mod:`planet_sentinel.drift`) compares new imagery with every statistic. The file is a typed
artefact, :class:`Baseline` (``baseline.json``).

Statistics are streamed over chips in batches: exact per-band histograms of the uint16 values
(``np.bincount`` over the 65,536 possible values, so quantiles are exact and any histogram can be
re-binned later), means and standard deviations, NDVI, nodata/unknown/change shares, plus
per-chip summaries (the unit the drift tests sample, since pixels of one chip are not
independent) and a fixed-size seeded pixel sample per band for two-sample tests.
Memory is bounded by the batch size, whatever the number of chips.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import numpy as np
from pydantic import BaseModel, Field

from planet_sentinel import __version__
from planet_sentinel.artefacts import Artefact, ArtefactError
from planet_sentinel.bands import MASK_UNKNOWN, REFLECTANCE_SCALE
from planet_sentinel.chips import ChipStore, empty_split_advice, find_chip_dirs
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import nodata_pixels

SCHEMA: Final = "planet-sentinel/baseline"
SCHEMA_VERSION = 1
#: Fixed reflectance histogram edges (x10000 scale): 100 bins of 0.01 up to reflectance 1.0 and
#: one overflow bin, so histograms of any two data sets are comparable bin by bin (PSI).
REFLECTANCE_EDGES: list[int] = [*range(0, REFLECTANCE_SCALE + 1, 100), 65536]
NDVI_EDGES: list[float] = [round(-1 + 0.02 * i, 2) for i in range(101)]
SHARE_EDGES: list[float] = [round(0.05 * i, 2) for i in range(21)]
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class BaselineConfig(BaseModel):
    """How the baseline is computed (the ``baseline`` section of params.yaml)."""

    split: str = Field(default="train", description="chips the statistics describe: train, val, test or all")
    pixel_sample: int = Field(default=20_000, ge=100, description="pixels kept per band for two-sample tests")
    batch_size: int = Field(default=64, ge=1)
    seed: int = 0


class BandStats(BaseModel):
    """Statistics of one band's valid pixels (None: no valid pixel)."""

    count: int
    mean: float | None
    std: float | None
    min: int | None
    max: int | None
    quantiles: dict[str, float | None] = Field(description="quantile level (as text) -> value")
    histogram: list[int] = Field(description="pixel counts on the fixed REFLECTANCE_EDGES bins")


class NdviStats(BaseModel):
    """NDVI of valid pixels, with the mean of every chip date (before, after of each chip in turn)."""

    count: int
    mean: float | None
    std: float | None
    histogram_edges: list[float]
    histogram: list[int]
    per_chip_mean: list[float | None]


class ShareStats(BaseModel):
    """A per-chip share (nodata, unknown, change): mean, histogram and every chip's value."""

    mean: float | None
    histogram_edges: list[float]
    histogram: list[int]
    per_chip: list[float]


class PixelStatistics(BaseModel):
    """What :class:`Accumulator` gathers over a chip set (both the baseline and the monitor's new data)."""

    per_band: dict[str, BandStats]
    ndvi: NdviStats
    per_chip_mean: dict[str, list[float | None]] = Field(description="band -> mean of every chip date")
    pixel_sample: dict[str, list[int]] = Field(description="band -> seeded uniform sample of valid pixels")


class ChipSetStatistics(PixelStatistics):
    """Pixel statistics plus the per-chip nodata and unknown (cloud, shadow, nodata) shares."""

    nodata_share: ShareStats
    unknown_share: ShareStats


class BaselineSource(BaseModel):
    """Which chips the baseline describes."""

    chips_dirs: list[str]
    fingerprint: str
    split: str


class Baseline(Artefact, ChipSetStatistics):
    """Statistics of the training chips (``baseline.json``), written by ``sentinel baseline``."""

    KIND: ClassVar[str] = "baseline"
    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION
    PRODUCED_BY: ClassVar[str] = "sentinel baseline"
    # Version 1 is the first baseline layout; every baseline ever written carries it, so there is
    # nothing to upgrade yet (an older number is refused with the command that rewrites it).

    schema_id: Literal["planet-sentinel/baseline"] = Field(default=SCHEMA, alias="schema")
    generator: str
    created: str
    config: BaselineConfig
    source: BaselineSource
    bands: list[str]
    chip_size: int
    n_chips: int
    reflectance_scale: int
    histogram_edges: list[int]
    quantile_levels: list[float]
    change_share: ShareStats | None = Field(description="labelled chips only: share of changed pixels")

    @property
    def labelled(self) -> bool:
        """Whether the chips had masks (then clouds and shadows were excluded as unknown)."""
        return self.change_share is not None


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """NDVI from reflectance arrays; 0 where both are 0."""
    red = red.astype(np.float32)
    nir = nir.astype(np.float32)
    total = nir + red
    out: np.ndarray = np.zeros_like(total)
    np.divide(nir - red, total, out=out, where=total > 0)
    return out


def _quantiles_from_counts(counts: np.ndarray, qs: Sequence[float]) -> dict[str, float]:
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    if total == 0:
        return {str(q): float("nan") for q in qs}
    return {str(q): float(np.searchsorted(cumulative, q * total, side="left")) for q in qs}


class Accumulator:
    """Streaming per-band statistics over valid pixels."""

    def __init__(self, bands: Sequence[str], sample_size: int, rng: np.random.Generator) -> None:
        self.bands = list(bands)
        self.counts = np.zeros((len(bands), 65536), np.int64)
        self.ndvi_hist = np.zeros(len(NDVI_EDGES) - 1, np.int64)
        self.ndvi_sum = 0.0
        self.ndvi_sq = 0.0
        self.sample_size = sample_size
        self.rng = rng
        self.sample_keys = np.zeros(0, np.float64)
        self.sample = np.zeros((0, len(bands)), np.uint16)
        self.chip_means: list[np.ndarray] = []
        self.chip_ndvi: list[float] = []

    def add_image(self, image: np.ndarray, valid: np.ndarray) -> None:
        """Add one date of one chip: image (bands, h, w), valid (h, w)."""
        pixels = image[:, valid]
        if pixels.shape[1] == 0:
            return
        for b in range(len(self.bands)):
            self.counts[b] += np.bincount(pixels[b], minlength=65536)
        self.chip_means.append(pixels.mean(axis=1))
        if {"B04", "B08"} <= set(self.bands):
            v = ndvi(pixels[self.bands.index("B04")], pixels[self.bands.index("B08")])
            self.ndvi_hist += np.histogram(v, bins=NDVI_EDGES)[0]
            self.ndvi_sum += float(v.sum(dtype=np.float64))
            self.ndvi_sq += float((v.astype(np.float64) ** 2).sum())
            self.chip_ndvi.append(float(v.mean()))
        self._reservoir(pixels)

    def _reservoir(self, pixels: np.ndarray) -> None:
        # Bottom-k sampling: every pixel gets a random key and the k smallest keys seen so far are
        # kept, which is an exactly uniform sample of all pixels without knowing the total.
        keys = np.asarray(self.rng.random(pixels.shape[1]))
        if len(self.sample_keys) >= self.sample_size:
            chosen = keys < self.sample_keys.max()
            keys, pixels = keys[chosen], pixels[:, chosen]
        all_keys = np.concatenate([self.sample_keys, keys])
        all_pixels = np.concatenate([self.sample, pixels.T])
        if len(all_keys) > self.sample_size:
            keep = np.argpartition(all_keys, self.sample_size - 1)[: self.sample_size]
            all_keys, all_pixels = all_keys[keep], all_pixels[keep]
        self.sample_keys, self.sample = all_keys, all_pixels

    def summary(self) -> PixelStatistics:
        values = np.arange(65536, dtype=np.float64)
        per_band: dict[str, Any] = {}
        for b, name in enumerate(self.bands):
            counts = self.counts[b]
            n = int(counts.sum())
            mean = float((counts * values).sum() / n) if n else float("nan")
            var = float((counts * (values - mean) ** 2).sum() / n) if n else float("nan")
            nonzero = np.flatnonzero(counts)
            per_band[name] = {
                "count": n,
                "mean": mean,
                "std": var**0.5,
                "min": int(nonzero[0]) if n else None,
                "max": int(nonzero[-1]) if n else None,
                "quantiles": _quantiles_from_counts(counts, QUANTILES),
                "histogram": np.add.reduceat(counts, REFLECTANCE_EDGES[:-1]).tolist(),
            }
        sample = self.sample
        n_ndvi = int(self.ndvi_hist.sum())
        ndvi_mean = self.ndvi_sum / n_ndvi if n_ndvi else float("nan")
        return PixelStatistics.model_validate(
            nan_to_none(
                {
                    "per_band": per_band,
                    "ndvi": {
                        "count": n_ndvi,
                        "mean": ndvi_mean,
                        "std": max(self.ndvi_sq / n_ndvi - ndvi_mean**2, 0.0) ** 0.5 if n_ndvi else float("nan"),
                        "histogram_edges": NDVI_EDGES,
                        "histogram": self.ndvi_hist.tolist(),
                        "per_chip_mean": [round(v, 5) for v in self.chip_ndvi],
                    },
                    "per_chip_mean": {
                        name: [round(float(m[b]), 2) for m in self.chip_means] for b, name in enumerate(self.bands)
                    },
                    "pixel_sample": {name: sample[:, b].astype(int).tolist() for b, name in enumerate(self.bands)},
                }
            )
        )


def share_summary(values: list[float]) -> ShareStats:
    arr = np.asarray(values, np.float64)
    return ShareStats(
        mean=float(arr.mean()) if arr.size else None,
        histogram_edges=SHARE_EDGES,
        histogram=np.histogram(np.clip(arr, 0, 1), bins=SHARE_EDGES)[0].tolist(),
        per_chip=[round(float(v), 5) for v in arr],
    )


def data_fingerprint(stores: Sequence[ChipStore]) -> str:
    """A cheap, content-derived identity of a chip set: manifests plus sizes and sparse samples
    of the array files (reading gigabytes to hash them would cost more than chipping)."""
    digest = hashlib.sha256()
    for store in stores:
        digest.update(json.dumps([c.model_dump(mode="json") for c in store.chips], sort_keys=True).encode())
        for key in sorted(store.arrays):
            arr = store.arrays[key]
            digest.update(f"{key}{arr.shape}{arr.dtype}".encode())
            step = max(1, len(arr) // 64)
            digest.update(np.ascontiguousarray(arr[::step]).tobytes()[: 1 << 20])
    return digest.hexdigest()[:16]


def compute_baseline(chips_root: str | Path, config: BaselineConfig | None = None) -> Baseline:
    """Statistics over every chip of the chosen split under ``chips_root``."""
    from planet_sentinel.progress import bar

    config = config or BaselineConfig()
    stores = [ChipStore(d) for d in find_chip_dirs(chips_root)]
    bands = stores[0].bands
    for store in stores[1:]:
        if store.bands != bands:
            raise SentinelError(
                f"{store.directory}: bands {list(store.bands)} differ from {list(bands)} of "
                f"{stores[0].directory}; one baseline needs one band set"
            )
    rng = np.random.default_rng(config.seed)
    acc = Accumulator(bands, config.pixel_sample, rng)
    nodata_shares: list[float] = []
    unknown_shares: list[float] = []
    change_shares: list[float] = []
    n_chips = 0
    selected = [(s, s.indices(config.split)) for s in stores]
    total = sum(len(i) for _, i in selected)
    if total == 0:
        raise SentinelError(
            f"no chips in split '{config.split}' under {chips_root} ({empty_split_advice(stores, config.split)})"
        )
    with bar(total, "baseline", unit="chip") as progress:
        for store, indices in selected:
            for batch in store.batches(indices, config.batch_size):
                for k in range(len(batch["before"])):
                    before, after = batch["before"][k], batch["after"][k]
                    nodata = nodata_pixels(before, after)
                    unknown = nodata.copy()
                    if "mask" in batch:
                        mask = batch["mask"][k]
                        unknown |= mask == MASK_UNKNOWN
                        labelled = int((~unknown).sum())
                        change_shares.append(float((mask == 1).sum() / labelled) if labelled else 0.0)
                    valid = ~unknown
                    acc.add_image(before, valid)
                    acc.add_image(after, valid)
                    nodata_shares.append(float(nodata.mean()))
                    unknown_shares.append(float(unknown.mean()))
                    n_chips += 1
                progress.update(len(batch["before"]))
    stats = acc.summary()
    return Baseline(
        schema_version=SCHEMA_VERSION,
        generator=f"planet_sentinel {__version__}",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        config=config,
        source=BaselineSource(
            chips_dirs=[str(s.directory) for s in stores], fingerprint=data_fingerprint(stores), split=config.split
        ),
        bands=list(bands),
        chip_size=stores[0].size,
        n_chips=n_chips,
        reflectance_scale=REFLECTANCE_SCALE,
        histogram_edges=REFLECTANCE_EDGES,
        quantile_levels=list(QUANTILES),
        per_band=stats.per_band,
        ndvi=stats.ndvi,
        per_chip_mean=stats.per_chip_mean,
        pixel_sample=stats.pixel_sample,
        nodata_share=share_summary(nodata_shares),
        unknown_share=share_summary(unknown_shares),
        change_share=share_summary(change_shares) if change_shares else None,
    )


def write_baseline(
    chips_root: str | Path, out: str | Path, config: BaselineConfig | None = None, overwrite: bool = False
) -> Baseline:
    """Compute the baseline and write it as JSON (atomically; refuses to clobber unless asked)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise SentinelError(f"{out} already exists; pass --overwrite to replace it")
    baseline = compute_baseline(chips_root, config)
    baseline.save(out, indent=None)
    return baseline


def nan_to_none(value: Any) -> Any:
    """``value`` with NaN (statistics of an empty set) replaced by None, which JSON can carry."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline (:meth:`Baseline.load`), saying how to recompute one that cannot be read."""
    if not Path(path).is_file():
        raise ArtefactError(f"{path}: no such baseline (run `sentinel baseline` first)")
    try:
        return Baseline.load(path)
    except ArtefactError as exc:
        try:
            raw = json.loads(Path(path).read_text())
            found = f"{raw.get('schema')} v{raw.get('schema_version')}" if isinstance(raw, dict) else "not a baseline"
        except (json.JSONDecodeError, UnicodeDecodeError):
            found = "not JSON"
        raise ArtefactError(
            f"{exc} ({found}, this planet-sentinel reads {SCHEMA} v{SCHEMA_VERSION}: recompute it with "
            f"`sentinel baseline --out {path}`)"
        ) from exc
