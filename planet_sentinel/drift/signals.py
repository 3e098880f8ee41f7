"""The signals the monitor compares: bands, scene (NDVI, nodata and cloud shares) and model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from planet_sentinel.baseline import Baseline
from planet_sentinel.drift.statistics import (
    Signal,
    Thresholds,
    finite_values,
    guard,
    ks_test,
    mmd_permutation_test,
    psi,
    unavailable,
    wasserstein_normalised,
)
from planet_sentinel.drift.types import DataSummary, ModelOutputs


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
        w = wasserstein_normalised(finite_values(ref[date]), finite_values(cur[date]), scale)
        if math.isfinite(w):
            worst = w if not math.isfinite(worst) else max(worst, w)
        rf, cf = finite_values(ref[date]), finite_values(cur[date])
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


def band_signals(baseline: Baseline, new: DataSummary, thresholds: Thresholds) -> list[Signal]:
    """Per band: PSI of the pixel histograms on the baseline's fixed bins, and per date a KS test on
    the per-chip band means and their Wasserstein distance normalised by the band's pixel std."""
    signals = []
    for band in new.bands:
        ref, cur = baseline.per_band[band], new.stats.per_band[band]
        signals.append(
            _dated_signal(
                f"band {band}",
                "bands",
                baseline.per_chip_mean[band],
                new.stats.per_chip_mean[band],
                baseline.n_chips,
                new.n_chips,
                ref.std or float("nan"),
                thresholds,
                {"psi": psi(ref.histogram, cur.histogram)},
                f"{band} reflectance: PSI of pixels on 0.01 bins; per date, KS and Wasserstein/std of chip means",
            )
        )
    return signals


def scene_signals(baseline: Baseline, new: DataSummary, thresholds: Thresholds) -> list[Signal]:
    """NDVI distribution, nodata share and unknown (cloud, shadow, nodata) share per chip."""
    signals = []
    ref_ndvi, cur_ndvi = baseline.ndvi, new.stats.ndvi
    if not ref_ndvi.count or not cur_ndvi.count:
        signals.append(
            unavailable(
                "ndvi", "scene", "ks", "NDVI needs bands B04 and B08 on both sides", baseline.n_chips, new.n_chips
            )
        )
    else:
        signals.append(
            _dated_signal(
                "ndvi",
                "scene",
                ref_ndvi.per_chip_mean,
                cur_ndvi.per_chip_mean,
                baseline.n_chips,
                new.n_chips,
                ref_ndvi.std or float("nan"),
                thresholds,
                {"psi": psi(ref_ndvi.histogram, cur_ndvi.histogram)},
                "NDVI of valid pixels: PSI on 0.02 bins; per date, KS and Wasserstein/std of chip means",
                relative=False,
            )
        )
    for key, label in (("nodata_share", "nodata share"), ("unknown_share", "cloud/shadow/nodata share")):
        if key == "unknown_share" and not baseline.labelled:
            signals.append(
                unavailable(
                    key,
                    "scene",
                    "ks",
                    "the baseline's chips are unlabelled, so it records no cloud share beyond nodata",
                    baseline.n_chips,
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
                    baseline.n_chips,
                    new.n_chips,
                )
            )
            continue
        ref_values = getattr(baseline, key).per_chip
        cur_values = getattr(new.stats, key).per_chip
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
