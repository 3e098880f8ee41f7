"""The drift monitor: new imagery against the training baseline, one decision.

``run_monitor(baseline.json, new_data)`` reads new **chips** (any directory holding chips
manifests) or new **scenes** (``<name>_before.tif`` + ``<name>_after.tif`` pairs, an optional
``<name>_mask.tif``; they are chipped at the baseline's chip size into a temporary directory),
summarises them with the baseline's own accumulator (:class:`planet_sentinel.baseline.Accumulator`), so
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

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planet_sentinel import __version__
from planet_sentinel.bands import MASK_UNKNOWN, canonical, require_bands
from planet_sentinel.baseline import (
    Accumulator,
    Baseline,
    ChipSetStatistics,
    data_fingerprint,
    load_baseline,
    share_summary,
)
from planet_sentinel.chips import ChipStore
from planet_sentinel.drift.model_outputs import model_outputs, model_sample, reference_model_outputs
from planet_sentinel.drift.new_data import band_index, find_scene_pairs, open_new_data
from planet_sentinel.drift.report import write_report
from planet_sentinel.drift.signals import band_signals, model_signals, scene_signals
from planet_sentinel.drift.statistics import decide
from planet_sentinel.drift.types import (
    EXIT_DRIFT,
    EXIT_INCONCLUSIVE,
    EXIT_NO_DRIFT,
    DataSummary,
    ModelOutputs,
    MonitorConfig,
    MonitorResult,
)
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import nodata_pixels

if TYPE_CHECKING:
    from planet_sentinel.model_bundle import ModelBundle

__all__ = [
    "EXIT_DRIFT",
    "EXIT_INCONCLUSIVE",
    "EXIT_NO_DRIFT",
    "DataSummary",
    "ModelOutputs",
    "MonitorConfig",
    "MonitorResult",
    "compare",
    "find_scene_pairs",
    "monitor_stores",
    "run_monitor",
    "summarise_chips",
]


def _pixel_rule(baseline_labelled: bool, store: ChipStore, bands: Sequence[str], use_masks: bool) -> str:
    from planet_sentinel.clouds import SCREEN_BANDS

    if not baseline_labelled:
        return "nodata"
    if store.labelled and use_masks:
        return "mask"
    names = {canonical(b) for b in store.bands}
    return "screen" if set(SCREEN_BANDS) <= names else "nodata"


def _selected(stores: Sequence[ChipStore], split: str) -> list[tuple[ChipStore, np.ndarray]]:
    """The stores holding chips of ``split`` with their sorted indices; all of one chip size."""
    selections = [np.sort(s.indices(split)) for s in stores]
    kept = [(s, i) for s, i in zip(stores, selections, strict=True) if len(i)]
    if not kept:
        raise SentinelError(
            f"the new data holds no chips (split '{split}'): nothing to compare (empty directory or every chip dropped)"
        )
    sizes = {s.size for s, _ in kept}
    if len(sizes) > 1:
        raise SentinelError(f"new chips come in several sizes {sorted(sizes)}; per-chip statistics need one size")
    return kept


def _add_batch(
    acc: Accumulator,
    batch: dict[str, np.ndarray],
    idx: list[int],
    rule: str,
    store_bands: Sequence[str],
    nodata_shares: list[float],
    unknown_shares: list[float],
) -> int:
    """Add both dates of every chip of ``batch`` (valid pixels by ``rule``) to ``acc`` and each chip's
    nodata and unknown shares to the lists; the number of chips."""
    from planet_sentinel.clouds import cloud_mask

    n = len(batch["before"])
    for k in range(n):
        before, after = batch["before"][k][idx], batch["after"][k][idx]
        nodata = nodata_pixels(before, after)
        unknown = nodata.copy()
        if rule == "mask":
            unknown |= batch["mask"][k] == MASK_UNKNOWN
        elif rule == "screen":
            unknown |= cloud_mask(batch["before"][k], store_bands)
            unknown |= cloud_mask(batch["after"][k], store_bands)
        valid = ~unknown
        acc.add_image(before, valid)
        acc.add_image(after, valid)
        nodata_shares.append(float(nodata.mean()))
        unknown_shares.append(float(unknown.mean()))
    return n


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
    from planet_sentinel.progress import bar

    kept = _selected(stores, config.split)
    stores = [s for s, _ in kept]
    rng = np.random.default_rng(config.seed)
    acc = Accumulator(list(bands), pixel_sample, rng)
    nodata_shares: list[float] = []
    unknown_shares: list[float] = []
    rules: set[str] = set()
    total = sum(len(i) for _, i in kept)
    chosen = model_sample(total, config.max_model_chips, config.seed) if bundle is not None else None
    features: list[np.ndarray] = []
    change: list[np.ndarray] = []
    offset = 0
    with bar(total, "monitor", unit="chip") as progress:
        for store, indices in kept:
            idx = band_index(store.bands, bands, str(store.directory))
            rule = _pixel_rule(baseline_labelled, store, bands, config.use_masks)
            rules.add(rule)
            for start, batch in zip(
                range(0, len(indices), config.batch_size), store.batches(indices, config.batch_size), strict=True
            ):
                n = _add_batch(acc, batch, idx, rule, store.bands, nodata_shares, unknown_shares)
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
    stats = ChipSetStatistics(
        **dict(acc.summary()), nodata_share=share_summary(nodata_shares), unknown_share=share_summary(unknown_shares)
    )
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


def check_bands(baseline: Baseline, wanted: Sequence[str] | None) -> list[str]:
    """The compared bands: ``wanted`` (canonicalised) or all of the baseline's, all in the baseline."""
    bands = [canonical(b) for b in wanted] if wanted else list(baseline.bands)
    require_bands(
        bands,
        baseline.bands,
        lambda missing: (
            f"bands {missing} are not in the baseline, which describes {baseline.bands}: a baseline "
            "of another band set; recompute it or compare fewer bands"
        ),
    )
    return bands


def compare(
    baseline: Baseline,
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
    baseline: Baseline, stores: Sequence[ChipStore], bands: Sequence[str], bundle: ModelBundle | None = None
) -> None:
    """Refuse new chips that lack compared (or model) bands or come at another chip size."""
    for store in stores:
        band_index(store.bands, bands, str(store.directory))
        if bundle is not None:
            band_index(store.bands, bundle.bands, f"{store.directory} (model input)")
        if store.size != baseline.chip_size:
            raise SentinelError(
                f"{store.directory}: chips of {store.size} px, the baseline's are {baseline.chip_size} px; "
                "per-chip statistics compare only at one chip size (pass the scenes, or chip them at "
                f"--size {baseline.chip_size})"
            )


def monitor_stores(
    baseline: Baseline,
    stores: Sequence[ChipStore],
    config: MonitorConfig | None = None,
    bundle: ModelBundle | None = None,
    model_info: dict[str, Any] | None = None,
) -> MonitorResult:
    """The monitor on chip stores already open (the core of :func:`run_monitor`, used by the benchmark)."""
    config = config or MonitorConfig()
    bands = check_bands(baseline, config.bands)
    if bundle is not None:
        require_bands(
            bundle.bands,
            baseline.bands,
            lambda lacking: (
                f"the model reads bands {list(bundle.bands)} but the baseline describes "
                f"{baseline.bands}: a baseline of another band set ({lacking} missing)"
            ),
        )
    check_new_stores(baseline, stores, bands, bundle)
    new = summarise_chips(
        stores,
        bands,
        baseline_labelled=baseline.labelled,
        pixel_sample=baseline.config.pixel_sample,
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
    with open_new_data(new_data, baseline.chip_size, config) as (stores, kind):
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
        result.paths = write_report(result, out_dir, overwrite=overwrite)
    return result
