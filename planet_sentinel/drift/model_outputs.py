"""The model's view of chip sets: pooled encoder features and predicted change shares, of the new
chips and of a seeded sample of the baseline's own chips (the model's reference)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.baseline import Baseline, data_fingerprint
from planet_sentinel.chips import MANIFEST, ChipStore
from planet_sentinel.drift.new_data import band_index
from planet_sentinel.drift.types import ModelOutputs, MonitorConfig

if TYPE_CHECKING:
    from planet_sentinel.model_bundle import ModelBundle


def model_sample(total: int, limit: int, seed: int) -> np.ndarray:
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
    idx = band_index(bands, bundle.bands, "model input")
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
    baseline: Baseline, bundle: ModelBundle, config: MonitorConfig
) -> tuple[ModelOutputs | None, str]:
    """The model run on a seeded sample of the baseline's own chips, or (None, why not)."""
    dirs = [Path(d) for d in baseline.source.chips_dirs]
    missing = [str(d) for d in dirs if not (d / MANIFEST).exists()]
    if not dirs or missing:
        return None, (
            f"the baseline's chips ({', '.join(missing) or 'none recorded'}) are not available, so the "
            "model has no reference; run the monitor where the training chips are"
        )
    stores = [ChipStore(d) for d in dirs]
    note = ""
    if data_fingerprint(stores) != baseline.source.fingerprint:
        note = "the baseline's chips changed since the baseline was computed (fingerprint differs)"
    split = baseline.source.split
    selections = [np.sort(s.indices(split)) for s in stores]
    total = sum(len(i) for i in selections)
    if total == 0:
        return None, f"the baseline's chips hold no chips of split '{split}'"
    chosen = model_sample(total, config.max_model_chips, config.seed + 7)
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
