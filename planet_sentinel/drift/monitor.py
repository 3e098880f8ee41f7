"""The drift monitor: new imagery against the training baseline, one decision.

``run_monitor(baseline.json, new_data)`` reads new **chips** (any directory holding chips
manifests) or new **scenes** (``<name>_before.tif`` + ``<name>_after.tif`` pairs, an optional
``<name>_mask.tif``; they are chipped at the baseline's chip size into a temporary directory),
summarises them with the baseline's own accumulator (:class:`planet_sentinel.drift.baseline`), so
both sides are computed by the same code, and compares:

* **bands**: per-band pixel distributions (PSI on the baseline's fixed bins, Wasserstein distance
  on the pixel samples / baseline std) with a KS test on the per-chip band means;
* **scene**: NDVI distribution (PSI, normalised Wasserstein, KS on per-chip NDVI means), the
  nodata share and the unknown (cloud, shadow, nodata) share per chip (difference of means, KS);
* **model** (with ``model``): the predicted change share per chip (normalised Wasserstein, KS)
  and the encoder's pooled features (MMD² with a permutation test). The model's reference is the
  model run on a sample of the baseline's own chips (``baseline.source.chips_dirs``); when those
  chips are gone the model signals are reported unavailable, not guessed.

Which pixels count (the same rule as the baseline's): a labelled baseline excluded nodata and
mask-unknown pixels (clouds, shadows), so new labelled chips use their masks and unlabelled ones
the spectral cloud screen (:mod:`planet_sentinel.clouds`); an unlabelled baseline kept clouds, so
only nodata is excluded.

Signals with fewer chips than the test needs are reported ``insufficient`` (see
:class:`~planet_sentinel.drift.statistics.Thresholds`); when no signal can be tested the decision
is ``inconclusive``. The decision rule itself is in :func:`~planet_sentinel.drift.statistics.decide`.

Sample size. Per-chip tests need enough chips *and* enough scenes: chips of one scene share its
acquisition (a per-scene radiometric gain of about 2 % per band in the simulator at its default
difficulty, as in real imagery), so a single scene cannot separate a 5 % calibration change from
natural scene-to-scene variation. The calibrated default (``python -m tools bench drift``) is new
data of 16 scenes of 512 x 512 px (256 chips of 128 px) against a baseline of 48 such scenes.

``sentinel monitor`` exit codes: 0 no drift, 3 drift detected, 4 inconclusive (no signal had
enough chips to be tested), 1 an error (bad baseline, new data with other bands, no new data),
2 a usage error.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from planet_sentinel import __version__
from planet_sentinel.bands import MASK_UNKNOWN, canonical
from planet_sentinel.chips import MANIFEST, ChipStore
from planet_sentinel.drift.baseline import _Accumulator, data_fingerprint, load_baseline
from planet_sentinel.drift.statistics import (
    Decision,
    Signal,
    Thresholds,
    decide,
    guard,
    ks_test,
    mmd_permutation_test,
    psi,
    unavailable,
    wasserstein_normalised,
)
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import nodata_pixels

if TYPE_CHECKING:
    from planet_sentinel.bundle import ModelBundle

#: Exit codes of ``sentinel monitor``.
EXIT_NO_DRIFT, EXIT_DRIFT, EXIT_INCONCLUSIVE = 0, 3, 4

#: ``--simulate`` presets: simulator knobs of each demo drift, on top of the baseline's settings.
#: Chosen as "moderate" versions of each real-world cause: a 5 % radiometric calibration change,
#: haze over the after date of 0.5 (the default scene has 0.21), the after date moved a full
#: season (wettest, +1), and a region with a much smaller forest share elsewhere in the Amazon.
DRIFT_PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    "gain": {"gain": 1.05},
    "haze": {"haze": 0.5},
    "season": {"season_shift": 1.0},
    "region": {"forest_fraction": 0.35, "centre_lon": -52.5, "centre_lat": -3.6},
}


class MonitorConfig(BaseModel):
    """Settings of ``sentinel monitor`` (the ``monitor`` section of params.yaml)."""

    bands: list[str] | None = Field(None, description="bands to compare (default: all of the baseline's)")
    split: str = Field("all", description="new chips of this split only (all: every chip outside the buffer)")
    use_masks: bool = Field(True, description="use new chips' masks for unknown pixels when they have them")
    max_invalid: float = Field(0.5, ge=0, le=1, description="new scenes: drop chips with more nodata than this")
    batch_size: int = Field(32, ge=1)
    seed: int = 0
    max_model_chips: int = Field(256, ge=4, description="chips per side the model runs on (seeded sample)")
    device: str | None = Field(None, description="torch device for the model signals")
    thresholds: Thresholds = Field(default_factory=Thresholds)  # type: ignore[arg-type]


@dataclass
class ModelOutputs:
    """The model's view of a chip set: pooled encoder features and predicted change share per chip."""

    features: np.ndarray
    change_share: np.ndarray


@dataclass
class DataSummary:
    """Statistics of one chip set, in the baseline's layout (``per_band``, ``ndvi``, ...)."""

    stats: dict[str, Any]
    n_chips: int
    bands: list[str]
    chip_size: int
    pixel_rule: str
    source: dict[str, Any]
    n_groups: int = 1
    model: ModelOutputs | None = None


@dataclass
class MonitorResult:
    """Everything the report shows: the decision, the signals and where they came from."""

    decision: Decision
    signals: list[Signal]
    thresholds: Thresholds
    baseline: dict[str, Any]
    new: DataSummary
    model: dict[str, Any] | None
    context: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    model_reference: ModelOutputs | None = None

    @property
    def exit_code(self) -> int:
        if self.decision.drift:
            return EXIT_DRIFT
        return EXIT_INCONCLUSIVE if self.decision.status == "inconclusive" else EXIT_NO_DRIFT


# --------------------------------------------------------------------------------------------
# New data: chips or scenes
# --------------------------------------------------------------------------------------------


def find_scene_pairs(directory: Path) -> list[dict[str, Path | None]]:
    """``<name>_before.tif`` / ``<name>_after.tif`` pairs (and ``<name>_mask.tif``) under ``directory``."""
    pairs = []
    for before in sorted(directory.rglob("*_before.tif")):
        stem = before.name[: -len("_before.tif")]
        after = before.with_name(f"{stem}_after.tif")
        if not after.exists():
            raise SentinelError(f"{before}: no matching {after.name}; new scenes come as before/after pairs")
        mask = before.with_name(f"{stem}_mask.tif")
        pairs.append({"name": stem, "before": before, "after": after, "mask": mask if mask.exists() else None})
    return pairs


@contextlib.contextmanager
def open_new_data(path: str | Path, chip_size: int, config: MonitorConfig) -> Iterator[tuple[list[ChipStore], str]]:
    """Yield the chip stores of ``path`` and what it held (``chips`` or ``scenes``).

    Scenes are chipped into a temporary directory that is removed afterwards.
    """
    from planet_sentinel.chips import ChipConfig, chip_scene

    root = Path(path)
    if not root.is_dir():
        raise SentinelError(f"{root}: no such directory of new data")
    manifests = [root / MANIFEST] if (root / MANIFEST).exists() else sorted(root.rglob(MANIFEST))
    if manifests:
        stores = [ChipStore(m.parent) for m in manifests]
        yield [s for s in stores if len(s.chips)], "chips"
        return
    pairs = find_scene_pairs(root)
    if not pairs:
        raise SentinelError(
            f"{root}: no new data (neither chips manifests nor <name>_before.tif/<name>_after.tif scene pairs)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="sentinel-monitor-"))
    try:
        chip_config = ChipConfig(size=chip_size, split_block=chip_size, max_invalid=config.max_invalid)
        stores = []
        for pair in pairs:
            mask = pair["mask"] if config.use_masks else None
            try:
                summary = chip_scene(
                    pair["before"], pair["after"], mask, tmp / str(pair["name"]), chip_config, name=str(pair["name"])
                )
            except SentinelError as exc:
                if "no chip of" in str(exc):  # a fully clouded or empty scene: nothing to compare
                    continue
                raise
            stores.append(ChipStore(summary.out_dir))
        yield stores, "scenes"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _band_index(store_bands: Sequence[str], wanted: Sequence[str], where: str) -> list[int]:
    names = [canonical(b) for b in store_bands]
    missing = [b for b in wanted if b not in names]
    if missing:
        raise SentinelError(
            f"{where}: bands {missing} of the comparison are missing (it has {names}); compare on the shared "
            f"bands with --bands {','.join(b for b in wanted if b in names) or '...'}"
        )
    return [names.index(b) for b in wanted]


# --------------------------------------------------------------------------------------------
# Statistics of a chip set, with the baseline's accumulator
# --------------------------------------------------------------------------------------------


def _pixel_rule(baseline_labelled: bool, store: ChipStore, bands: Sequence[str], use_masks: bool) -> str:
    from planet_sentinel.clouds import SCREEN_BANDS

    if not baseline_labelled:
        return "nodata"
    if store.labelled and use_masks:
        return "mask"
    names = {canonical(b) for b in store.bands}
    return "screen" if set(SCREEN_BANDS) <= names else "nodata"


def summarise_chips(
    stores: Sequence[ChipStore],
    bands: Sequence[str],
    *,
    baseline_labelled: bool,
    pixel_sample: int,
    config: MonitorConfig,
    bundle: ModelBundle | None = None,
) -> DataSummary:
    """Stream every chip of ``stores`` through the baseline's accumulator (and the model).

    Memory is bounded by the batch size, the accumulator's fixed histograms and pixel sample,
    and the model outputs of at most ``config.max_model_chips`` chips.
    """
    from planet_sentinel.clouds import cloud_mask
    from planet_sentinel.progress import bar

    selections = [np.sort(s.indices(config.split)) for s in stores]
    kept = [(s, i) for s, i in zip(stores, selections, strict=True) if len(i)]
    if not kept:
        raise SentinelError(
            f"the new data holds no chips (split '{config.split}'): nothing to compare (empty "
            "directory or every chip dropped)"
        )
    stores = [s for s, _ in kept]
    sizes = {s.size for s in stores}
    if len(sizes) > 1:
        raise SentinelError(f"new chips come in several sizes {sorted(sizes)}; per-chip statistics need one size")
    rng = np.random.default_rng(config.seed)
    acc = _Accumulator(list(bands), pixel_sample, rng)
    nodata_shares: list[float] = []
    unknown_shares: list[float] = []
    rules: set[str] = set()
    total = sum(len(i) for _, i in kept)
    chosen = _model_sample(total, config.max_model_chips, config.seed) if bundle is not None else None
    features: list[np.ndarray] = []
    change: list[np.ndarray] = []
    offset = 0
    with bar(total, "monitor", unit="chip") as progress:
        for store, indices in kept:
            idx = _band_index(store.bands, bands, str(store.directory))
            rule = _pixel_rule(baseline_labelled, store, bands, config.use_masks)
            rules.add(rule)
            for start, batch in zip(
                range(0, len(indices), config.batch_size), store.batches(indices, config.batch_size), strict=True
            ):
                n = len(batch["before"])
                for k in range(n):
                    before, after = batch["before"][k][idx], batch["after"][k][idx]
                    nodata = nodata_pixels(before, after)
                    unknown = nodata.copy()
                    if rule == "mask":
                        unknown |= batch["mask"][k] == MASK_UNKNOWN
                    elif rule == "screen":
                        unknown |= cloud_mask(batch["before"][k], store.bands)
                        unknown |= cloud_mask(batch["after"][k], store.bands)
                    valid = ~unknown
                    acc.add_image(before, valid)
                    acc.add_image(after, valid)
                    nodata_shares.append(float(nodata.mean()))
                    unknown_shares.append(float(unknown.mean()))
                if chosen is not None and bundle is not None:
                    keep = np.flatnonzero(chosen[offset + start : offset + start + n])
                    if len(keep):
                        out = model_outputs(
                            bundle, batch["before"][keep], batch["after"][keep], store.bands, config.device
                        )
                        features.append(out.features)
                        change.append(out.change_share)
                progress.update(n)
            offset += len(indices)
    from planet_sentinel.drift.baseline import _share_summary

    stats = acc.summary()
    stats["nodata_share"] = _share_summary(nodata_shares)
    stats["unknown_share"] = _share_summary(unknown_shares)
    model = None
    if bundle is not None and features:
        model = ModelOutputs(np.concatenate(features), np.concatenate(change))
    return DataSummary(
        stats=stats,
        n_chips=len(nodata_shares),
        bands=list(bands),
        chip_size=stores[0].size,
        pixel_rule="+".join(sorted(rules)),
        source={"chips_dirs": [str(s.directory) for s in stores], "fingerprint": data_fingerprint(stores)},
        n_groups=len(stores),
        model=model,
    )


def _model_sample(total: int, limit: int, seed: int) -> np.ndarray:
    """Boolean selection of at most ``limit`` of ``total`` chips, seeded and spread uniformly."""
    chosen = np.zeros(total, bool)
    if total <= limit:
        chosen[:] = True
    else:
        chosen[np.random.default_rng(seed + 1).choice(total, limit, replace=False)] = True
    return chosen


def model_outputs(
    bundle: ModelBundle, before: np.ndarray, after: np.ndarray, bands: Sequence[str], device: str | None = None
) -> ModelOutputs:
    """Pooled encoder features and predicted change share (of known pixels) of a batch of chips."""
    import torch

    from planet_sentinel.predict import predict_batch, resolve_device

    prob = predict_batch(bundle, before, after, bands, device=device)
    known = np.isfinite(prob)
    counts = known.sum(axis=(1, 2))
    hits = ((prob >= bundle.threshold) & known).sum(axis=(1, 2))
    share = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    idx = _band_index(bands, bundle.bands, "model input")
    m = bundle.model.multiple
    h, w = before.shape[-2:]
    hc, wc = max(m, h // m * m), max(m, w // m * m)
    dev = resolve_device(device)
    with torch.inference_mode():
        xb = torch.from_numpy(before[:, idx, :hc, :wc].astype(np.float32)).to(dev)
        xa = torch.from_numpy(after[:, idx, :hc, :wc].astype(np.float32)).to(dev)
        bundle.model.to(dev).eval()
        feats = bundle.model.pooled_features(bundle.normalise(xb), bundle.normalise(xa)).float().cpu().numpy()
    return ModelOutputs(feats.astype(np.float64), share.astype(np.float64))


def reference_model_outputs(
    baseline: dict[str, Any], bundle: ModelBundle, config: MonitorConfig
) -> tuple[ModelOutputs | None, str]:
    """The model run on a seeded sample of the baseline's own chips, or (None, why not)."""
    dirs = [Path(d) for d in baseline.get("source", {}).get("chips_dirs", [])]
    missing = [str(d) for d in dirs if not (d / MANIFEST).exists()]
    if not dirs or missing:
        return None, (
            f"the baseline's chips ({', '.join(missing) or 'none recorded'}) are not available, so the "
            "model has no reference; run the monitor where the training chips are"
        )
    stores = [ChipStore(d) for d in dirs]
    note = ""
    if data_fingerprint(stores) != baseline["source"].get("fingerprint"):
        note = "the baseline's chips changed since the baseline was computed (fingerprint differs)"
    split = baseline["source"].get("split", "all")
    selections = [np.sort(s.indices(split)) for s in stores]
    total = sum(len(i) for i in selections)
    if total == 0:
        return None, f"the baseline's chips hold no chips of split '{split}'"
    chosen = _model_sample(total, config.max_model_chips, config.seed + 7)
    features, change = [], []
    offset = 0
    for store, sel in zip(stores, selections, strict=True):
        picked = sel[chosen[offset : offset + len(sel)]]
        offset += len(sel)
        for batch in store.batches(picked, config.batch_size):
            out = model_outputs(bundle, batch["before"], batch["after"], store.bands, config.device)
            features.append(out.features)
            change.append(out.change_share)
    return ModelOutputs(np.concatenate(features), np.concatenate(change)), note


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------


def _hist_centres(edges: Sequence[float]) -> np.ndarray:
    e = np.asarray(edges, np.float64)
    return (e[:-1] + e[1:]) / 2


def _by_date(values: Sequence[float | None], n_chips: int) -> dict[str, np.ndarray]:
    """Per-chip values split by date. The accumulator adds the before and then the after image of
    every chip (both or neither, as they share one valid mask), so even positions are before dates
    and odd ones after dates; any other length is kept whole as ``both``."""
    arr = np.asarray([np.nan if v is None else v for v in values], np.float64)
    if len(arr) == 2 * n_chips:
        return {"before": arr[0::2], "after": arr[1::2]}
    return {"both": arr}


def _dated_signal(
    name: str,
    group: str,
    ref_values: Sequence[float | None],
    new_values: Sequence[float | None],
    ref_chips: int,
    new_chips: int,
    scale: float,
    thresholds: Thresholds,
    extra: dict[str, float],
    description: str,
    relative: bool = True,
) -> Signal:
    """KS per date on per-chip values (p-values Bonferroni-combined over the dates) and the largest
    Wasserstein distance between the dates' per-chip distributions, normalised by ``scale``.

    Also reports each date's change of the mean per-chip value (relative, or absolute for NDVI)."""
    ref, cur = _by_date(ref_values, ref_chips), _by_date(new_values, new_chips)
    if set(ref) != set(cur):
        ref, cur = {"both": np.concatenate(list(ref.values()))}, {"both": np.concatenate(list(cur.values()))}
    pvalues, stats_, effects = [], [], dict(extra)
    worst = float("nan")
    for date in ref:
        d, p = ks_test(ref[date], cur[date])
        stats_.append(d)
        pvalues.append(p)
        w = wasserstein_normalised(_finite(ref[date]), _finite(cur[date]), scale)
        if math.isfinite(w):
            worst = w if not math.isfinite(worst) else max(worst, w)
        rf, cf = _finite(ref[date]), _finite(cur[date])
        diff = float(cf.mean() - rf.mean()) if len(rf) and len(cf) else float("nan")
        if relative:
            effects[f"change_{date}"] = diff / float(rf.mean()) if len(rf) and rf.mean() else float("nan")
        else:
            effects[f"difference_{date}"] = diff
    finite = [p for p in pvalues if math.isfinite(p)]
    p = min(1.0, len(finite) * min(finite)) if finite else float("nan")
    effects = {"wasserstein_norm": worst, **effects}
    limits = {"wasserstein_norm": thresholds.wasserstein}
    warn = {}
    if "psi" in effects:
        limits["psi"], warn["psi"] = thresholds.psi, thresholds.psi_warn
    return guard(
        Signal(
            name,
            group,
            "ks",
            ref_chips,
            new_chips,
            max(stats_, default=float("nan")),
            p,
            effects,
            limits,
            warn,
            description=description,
        ),
        thresholds.min_chips,
    )


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def band_signals(baseline: dict[str, Any], new: DataSummary, thresholds: Thresholds) -> list[Signal]:
    """Per band: PSI of the pixel histograms on the baseline's fixed bins, and per date a KS test on
    the per-chip band means and their Wasserstein distance normalised by the band's pixel std."""
    signals = []
    for band in new.bands:
        ref, cur = baseline["per_band"][band], new.stats["per_band"][band]
        signals.append(
            _dated_signal(
                f"band {band}",
                "bands",
                baseline["per_chip_mean"][band],
                new.stats["per_chip_mean"][band],
                baseline["n_chips"],
                new.n_chips,
                ref["std"] or float("nan"),
                thresholds,
                {"psi": psi(ref["histogram"], cur["histogram"])},
                f"{band} reflectance: PSI of pixels on 0.01 bins; per date, KS and Wasserstein/std of chip means",
            )
        )
    return signals


def scene_signals(baseline: dict[str, Any], new: DataSummary, thresholds: Thresholds) -> list[Signal]:
    """NDVI distribution, nodata share and unknown (cloud, shadow, nodata) share per chip."""
    signals = []
    ref_ndvi, cur_ndvi = baseline["ndvi"], new.stats["ndvi"]
    if not ref_ndvi["count"] or not cur_ndvi["count"]:
        signals.append(
            unavailable(
                "ndvi", "scene", "ks", "NDVI needs bands B04 and B08 on both sides", baseline["n_chips"], new.n_chips
            )
        )
    else:
        signals.append(
            _dated_signal(
                "ndvi",
                "scene",
                ref_ndvi["per_chip_mean"],
                cur_ndvi["per_chip_mean"],
                baseline["n_chips"],
                new.n_chips,
                ref_ndvi["std"] or float("nan"),
                thresholds,
                {"psi": psi(ref_ndvi["histogram"], cur_ndvi["histogram"])},
                "NDVI of valid pixels: PSI on 0.02 bins; per date, KS and Wasserstein/std of chip means",
                relative=False,
            )
        )
    for key, label in (("nodata_share", "nodata share"), ("unknown_share", "cloud/shadow/nodata share")):
        if key == "unknown_share" and baseline.get("change_share") is None:
            signals.append(
                unavailable(
                    key,
                    "scene",
                    "ks",
                    "the baseline's chips are unlabelled, so it records no cloud share beyond nodata",
                    baseline["n_chips"],
                    new.n_chips,
                )
            )
            continue
        if key == "unknown_share" and new.pixel_rule != "mask":
            signals.append(
                unavailable(
                    key,
                    "scene",
                    "ks",
                    "not comparable: the baseline's unknown pixels come from its masks, the new "
                    f"data's from '{new.pixel_rule}' (the spectral cloud screen flags more than the masks); give the "
                    "new scenes their masks to compare cloud shares",
                    baseline["n_chips"],
                    new.n_chips,
                )
            )
            continue
        ref_values = baseline[key]["per_chip"]
        cur_values = new.stats[key]["per_chip"]
        stat, p = ks_test(ref_values, cur_values)
        diff = float(np.mean(cur_values) - np.mean(ref_values)) if ref_values and cur_values else float("nan")
        signals.append(
            guard(
                Signal(
                    key,
                    "scene",
                    "ks",
                    len(ref_values),
                    len(cur_values),
                    stat,
                    p,
                    {"mean_difference": abs(diff), "new_minus_baseline": diff},
                    {"mean_difference": thresholds.share_difference},
                    description=f"{label} per chip: difference of means, KS",
                ),
                thresholds.min_chips,
            )
        )
    return signals


def model_signals(
    ref: ModelOutputs | None, new: ModelOutputs | None, why: str, thresholds: Thresholds, seed: int = 0
) -> list[Signal]:
    """Predicted change share per chip and MMD on the encoder's pooled features."""
    if ref is None or new is None:
        reason = why or "no model outputs"
        return [
            unavailable("predicted_change", "model", "ks", reason),
            unavailable("encoder_mmd", "model", "mmd", reason),
        ]
    rc = ref.change_share[np.isfinite(ref.change_share)]
    nc = new.change_share[np.isfinite(new.change_share)]
    spread = float(np.std(rc)) if len(rc) else float("nan")
    stat, p = ks_test(rc, nc)
    diff = float(nc.mean() - rc.mean()) if len(rc) and len(nc) else float("nan")
    change = guard(
        Signal(
            "predicted_change",
            "model",
            "ks",
            len(rc),
            len(nc),
            stat,
            p,
            {"mean_difference": abs(diff), "wasserstein_norm": wasserstein_normalised(rc, nc, spread)},
            {"mean_difference": thresholds.share_difference},
            description=f"predicted change share per chip: difference of means ({diff:+.3f}), KS",
        ),
        thresholds.min_chips,
    )
    mmd = Signal(
        "encoder_mmd",
        "model",
        "mmd",
        len(ref.features),
        len(new.features),
        limits={"mmd2": thresholds.mmd},
        description="pooled encoder features (both dates): MMD² with a permutation test",
    )
    guard(mmd, thresholds.min_mmd_chips)
    if mmd.status == "pending":
        result = mmd_permutation_test(ref.features, new.features, thresholds.n_permutations, seed)
        mmd.statistic, mmd.p_value = result["mmd2"], result["p_value"]
        mmd.effects = {"mmd2": result["mmd2"], "bandwidth": result["bandwidth"]}
    return [change, mmd]


# --------------------------------------------------------------------------------------------
# The monitor
# --------------------------------------------------------------------------------------------


def check_bands(baseline: dict[str, Any], wanted: Sequence[str] | None) -> list[str]:
    """The compared bands: ``wanted`` (canonicalised) or all of the baseline's, all in the baseline."""
    bands = [canonical(b) for b in wanted] if wanted else list(baseline["bands"])
    missing = [b for b in bands if b not in baseline["bands"]]
    if missing:
        raise SentinelError(
            f"bands {missing} are not in the baseline, which describes {baseline['bands']}: a baseline "
            "of another band set; recompute it or compare fewer bands"
        )
    return bands


def compare(
    baseline: dict[str, Any],
    new: DataSummary,
    config: MonitorConfig,
    bundle: ModelBundle | None = None,
    model_info: dict[str, Any] | None = None,
) -> MonitorResult:
    """Every signal of ``new`` against ``baseline`` and the decision (no files written)."""
    signals = band_signals(baseline, new, config.thresholds) + scene_signals(baseline, new, config.thresholds)
    ref = None
    if bundle is not None:
        ref, why = reference_model_outputs(baseline, bundle, config)
        if model_info is not None and why and ref is not None:
            model_info["reference_note"] = why
        signals += model_signals(ref, new.model, why, config.thresholds, config.seed)
    decision = decide(signals, config.thresholds)
    return MonitorResult(decision, signals, config.thresholds, baseline, new, model_info, model_reference=ref)


def check_new_stores(
    baseline: dict[str, Any], stores: Sequence[ChipStore], bands: Sequence[str], bundle: ModelBundle | None = None
) -> None:
    """Refuse new chips that lack compared (or model) bands or come at another chip size."""
    for store in stores:
        _band_index(store.bands, bands, str(store.directory))
        if bundle is not None:
            _band_index(store.bands, bundle.bands, f"{store.directory} (model input)")
        if store.size != baseline["chip_size"]:
            raise SentinelError(
                f"{store.directory}: chips of {store.size} px, the baseline's are {baseline['chip_size']} px; "
                "per-chip statistics compare only at one chip size (pass the scenes, or chip them at "
                f"--size {baseline['chip_size']})"
            )


def monitor_stores(
    baseline: dict[str, Any],
    stores: Sequence[ChipStore],
    config: MonitorConfig | None = None,
    bundle: ModelBundle | None = None,
    model_info: dict[str, Any] | None = None,
) -> MonitorResult:
    """The monitor on chip stores already open (the core of :func:`run_monitor`, used by the benchmark)."""
    config = config or MonitorConfig()
    bands = check_bands(baseline, config.bands)
    if bundle is not None:
        lacking = [b for b in bundle.bands if b not in baseline["bands"]]
        if lacking:
            raise SentinelError(
                f"the model reads bands {list(bundle.bands)} but the baseline describes "
                f"{baseline['bands']}: a baseline of another band set ({lacking} missing)"
            )
    check_new_stores(baseline, stores, bands, bundle)
    new = summarise_chips(
        stores,
        bands,
        baseline_labelled=baseline.get("change_share") is not None,
        pixel_sample=int(baseline.get("config", {}).get("pixel_sample", 20_000)),
        config=config,
        bundle=bundle,
    )
    result = compare(baseline, new, config, bundle, model_info)
    result.context["bands"] = bands
    return result


def run_monitor(
    baseline_path: str | Path,
    new_data: str | Path,
    out_dir: str | Path | None = None,
    model: str | Path | None = None,
    config: MonitorConfig | None = None,
    overwrite: bool = True,
) -> MonitorResult:
    """Compare ``new_data`` (chips or scenes) with the baseline, decide, and write the report.

    Raises :class:`SentinelError` for a baseline of another schema version or band set, new data
    with other bands or no chips, or a model whose bands the data lack.
    """
    config = config or MonitorConfig()
    start = time.perf_counter()
    baseline = load_baseline(baseline_path)
    check_bands(baseline, config.bands)
    bundle = None
    model_info: dict[str, Any] | None = None
    if model is not None:
        from planet_sentinel.registry import load_model

        bundle = load_model(model)
        model_info = {
            "spec": str(model),
            "bands": list(bundle.bands),
            "fingerprint": bundle.fingerprint,
            "threshold": bundle.threshold,
            **({"registry": bundle.source} if bundle.source else {}),
        }
    with open_new_data(new_data, int(baseline["chip_size"]), config) as (stores, kind):
        if not stores:
            raise SentinelError(f"{new_data}: the new data holds no chips (every scene empty or fully clouded)")
        result = monitor_stores(baseline, stores, config, bundle, model_info)
    result.new.source.update(path=str(new_data), kind=kind)
    result.context.update(
        {
            "generator": f"planet_sentinel {__version__}",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - start, 3),
            "baseline_path": str(baseline_path),
        }
    )
    if out_dir is not None:
        from planet_sentinel.drift.report import write_report

        result.paths = write_report(result, out_dir, overwrite=overwrite)
    return result


def simulate_new_data(
    kind: str, out_dir: str | Path, scenes: int = 4, size: int = 512, seed: int = 1000, difficulty: float = 0.3
) -> list[Path]:
    """Simulate ``scenes`` scene pairs with the ``kind`` preset of :data:`DRIFT_PRESETS` (``none``:
    the baseline's settings). Returns the before paths."""
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    if kind not in DRIFT_PRESETS:
        raise SentinelError(f"unknown drift {kind!r}; expected one of {', '.join(DRIFT_PRESETS)}")
    out = Path(out_dir)
    paths = []
    for i in range(scenes):
        cfg = SimulationConfig(
            name=f"{kind}{seed + i}", size=size, seed=seed + i, difficulty=difficulty, **DRIFT_PRESETS[kind]
        )
        paths.append(simulate_scene(cfg, out, overwrite=True).before)
    return paths
