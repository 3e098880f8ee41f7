"""Training data: augmentation that keeps the dates and the mask aligned, batches, the checks on chips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planet_sentinel.chips import ChipStore
from planet_sentinel.errors import SentinelError
from planet_sentinel.train import ChipDataset, load_normalisation
from planet_sentinel.train.data import TrainingData, batches


def test_augmentation_keeps_dates_and_mask_aligned(simulated_chips: Path) -> None:
    store = ChipStore(simulated_chips / "tiny")
    dataset = ChipDataset([store], "train", crop=None, augment=True, seed=1)
    # Make a sample whose before and after are identical: after augmentation they must still
    # match pixel for pixel up to each date's own radiometric jitter (a gain and offset per band).
    store.arrays["after"] = store.arrays["before"]
    for k in range(4):
        before, after, mask = dataset.sample(k)
        for band in range(before.shape[0]):
            valid = (before[band] > 1) & (after[band] > 1)
            corr = np.corrcoef(before[band][valid], after[band][valid])[0, 1]
            assert corr > 0.999
        assert mask.shape == before.shape[1:]


def test_batches_stack_samples_in_order(simulated_chips: Path) -> None:
    dataset = ChipDataset([ChipStore(simulated_chips / "tiny")], "val", crop=None, augment=False, seed=0)
    order = np.arange(len(dataset))[::-1]
    got = list(batches(dataset, order, batch_size=2))
    assert [len(b[0]) for b in got] == [len(c) for c in np.array_split(order, range(2, len(order), 2))]
    np.testing.assert_array_equal(got[0][2][0], dataset.sample(int(order[0]))[2])
    assert got[0][0].dtype == np.float32 and got[0][0].shape[1:] == dataset.sample(0)[0].shape


def test_prepare_checks_the_crop_against_the_depth(simulated_chips: Path) -> None:
    data = TrainingData.prepare(simulated_chips, crop=64, depth=4, seed=0)
    assert data.bands == ("B02", "B03", "B04", "B08", "B11", "B12") and data.chip_size == 128
    assert len(data.train_set) and len(data.val_set) and data.val_set.crop is None
    with pytest.raises(SentinelError, match="divisible by 32 for depth 6"):
        TrainingData.prepare(simulated_chips, crop=48, depth=6, seed=0)


def test_normalisation_comes_from_the_baseline_in_band_order(simulated_chips: Path) -> None:
    from planet_sentinel.baseline import BaselineConfig, compute_baseline

    baseline = compute_baseline(simulated_chips, BaselineConfig(split="train", pixel_sample=100))
    mean, std = load_normalisation(baseline, ["B08", "B04"])
    assert mean.tolist() == pytest.approx([baseline.per_band["B08"].mean, baseline.per_band["B04"].mean], rel=1e-6)
    assert mean.dtype == std.dtype == np.float32 and (std >= 1).all()
    with pytest.raises(SentinelError, match=r"baseline lacks bands \['B05'\]"):
        load_normalisation(baseline, ["B04", "B05"])
    empty = baseline.per_band["B04"].model_copy(update={"count": 0, "mean": None, "std": None})
    no_red = baseline.model_copy(update={"per_band": {**baseline.per_band, "B04": empty}})
    with pytest.raises(SentinelError, match=r"no valid pixel of bands \['B04'\]"):
        load_normalisation(no_red, ["B04"])
