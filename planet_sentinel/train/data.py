"""What training reads: the chip stores it accepts, their samples with change-detection-valid
augmentation, the batches the loop feeds the model and the normalisation from the baseline.

torchgeo keeps this side in datamodules, apart from the task (torchgeo/datamodules and
torchgeo/trainers/change.py in github.com/microsoft/torchgeo); numpy only here, so the Kaggle
round trip can check chips before uploading without importing torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.bands import require_bands
from planet_sentinel.chips import ChipStore, empty_split_advice, find_chip_dirs
from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline

#: (before, after, mask) arrays of one sample or of a batch of them.
Sample = tuple[np.ndarray, np.ndarray, np.ndarray]


class ChipDataset:
    """Chips of one split from one or more chip directories, with change-detection-valid
    augmentation: the same flip/rotation on both dates and the mask, independent radiometric
    jitter per date (sensors and atmospheres differ between dates; geometry does not)."""

    def __init__(self, stores: Sequence[ChipStore], split: str, crop: int | None, augment: bool, seed: int) -> None:
        self.items = [(s, int(i)) for s in stores for i in s.indices(split)]
        self.crop = crop
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, k: int) -> Sample:
        store, index = self.items[k]
        before = np.asarray(store.arrays["before"][index], np.float32)
        after = np.asarray(store.arrays["after"][index], np.float32)
        mask = np.asarray(store.arrays["mask"][index])
        size = mask.shape[-1]
        if self.crop and self.crop < size:
            if self.augment:
                r, c = self.rng.integers(0, size - self.crop + 1, 2)
            else:
                r = c = (size - self.crop) // 2
            window = (slice(r, r + self.crop), slice(c, c + self.crop))
            before, after, mask = before[(slice(None), *window)], after[(slice(None), *window)], mask[window]
        if self.augment:
            k_rot = int(self.rng.integers(4))
            flip = bool(self.rng.integers(2))
            before, after, mask = (self._geometric(a, k_rot, flip) for a in (before, after, mask))
            before, after = self._radiometric(before), self._radiometric(after)
        return np.ascontiguousarray(before), np.ascontiguousarray(after), np.ascontiguousarray(mask)

    @staticmethod
    def _geometric(array: np.ndarray, k_rot: int, flip: bool) -> np.ndarray:
        array = np.rot90(array, k_rot, axes=(-2, -1))
        return np.flip(array, axis=-1) if flip else array

    def _radiometric(self, image: np.ndarray) -> np.ndarray:
        valid = image > 0
        gain = self.rng.uniform(0.92, 1.08) * self.rng.normal(1.0, 0.03, (image.shape[0], 1, 1))
        offset = self.rng.normal(0.0, 60.0, (image.shape[0], 1, 1))
        jittered = image * gain.astype(np.float32) + offset.astype(np.float32)
        return np.where(valid, np.maximum(jittered, 1.0), 0.0).astype(np.float32)


def batches(dataset: ChipDataset, order: np.ndarray, batch_size: int) -> Iterator[Sample]:
    """Stacked samples of ``dataset`` in ``order``, ``batch_size`` at a time."""
    for start in range(0, len(order), batch_size):
        samples = [dataset.sample(int(k)) for k in order[start : start + batch_size]]
        before, after, mask = (np.stack(parts) for parts in zip(*samples, strict=True))
        yield before, after, mask


def training_stores(chips_dir: str | Path) -> list[ChipStore]:
    """The chip stores under ``chips_dir``, refused if training could not use them: checked here once
    so the Kaggle round trip can refuse bad chips before uploading anything."""
    stores = [ChipStore(d) for d in find_chip_dirs(chips_dir)]
    bands = stores[0].bands
    for store in stores:
        if store.bands != bands:
            raise SentinelError(f"{store.directory}: bands {list(store.bands)} differ from {list(bands)}")
        if not store.labelled:
            raise SentinelError(f"{store.directory}: chips have no mask; training needs labelled chips")
    counts = {split: sum(len(s.indices(split)) for s in stores) for split in ("train", "val")}
    if not all(counts.values()):
        raise SentinelError(
            f"need chips in both train and val splits under {chips_dir} (train {counts['train']}, val {counts['val']}; "
            f"{empty_split_advice(stores, 'train' if not counts['train'] else 'val')})"
        )
    return stores


def load_normalisation(baseline: Baseline, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std (at least 1) from the drift baseline, in the model's band order."""
    require_bands(
        bands, baseline.per_band, lambda missing: f"baseline lacks bands {missing}; recompute it on these chips"
    )
    stats = [baseline.per_band[b] for b in bands]
    empty = [b for b, s in zip(bands, stats, strict=True) if s.mean is None or s.std is None]
    if empty:
        raise SentinelError(f"baseline has no valid pixel of bands {empty}; recompute it on chips with data")
    mean = np.array([s.mean for s in stats], np.float32)
    std = np.array([max(s.std or 0.0, 1.0) for s in stats], np.float32)
    return mean, std


@dataclass
class TrainingData:
    """The chips one run trains and validates on, checked against the model's settings."""

    chips_dir: Path
    stores: list[ChipStore]
    train_set: ChipDataset
    val_set: ChipDataset

    @property
    def bands(self) -> tuple[str, ...]:
        return self.stores[0].bands

    @property
    def chip_size(self) -> int:
        return self.stores[0].size

    @classmethod
    def prepare(cls, chips_dir: str | Path, crop: int | None, depth: int, seed: int) -> TrainingData:
        """Training crops are random (augmented); validation sees whole chips, unaugmented. Both
        must halve cleanly through every encoder level."""
        stores = training_stores(chips_dir)
        data = cls(
            Path(chips_dir),
            stores,
            ChipDataset(stores, "train", crop, augment=True, seed=seed),
            ChipDataset(stores, "val", None, augment=False, seed=seed),
        )
        multiple = 2 ** (depth - 1)
        if (crop or data.chip_size) % multiple or data.chip_size % multiple:
            raise SentinelError(f"crop/chip size must be divisible by {multiple} for depth {depth}")
        return data
