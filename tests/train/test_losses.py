"""The training loss and the positive-class weight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from planet_sentinel.train import masked_loss
from planet_sentinel.train.losses import positive_weight


def test_loss_ignores_unknown_pixels() -> None:
    logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), 255, dtype=torch.uint8)
    target[0, 0, 0] = 1
    loss = masked_loss(logits, target, pos_weight=2.0, dice_weight=0.5)
    loss.backward()
    assert logits.grad is not None
    assert torch.count_nonzero(logits.grad) == 1  # only the one known pixel pulls on the model
    all_unknown = masked_loss(logits, torch.full((1, 4, 4), 255, dtype=torch.uint8), 2.0, 0.5)
    assert float(all_unknown.detach()) == 0.0


class MaskOnly:
    """Just what positive_weight reads of a chip store: train indices and the mask array."""

    def __init__(self, mask: np.ndarray) -> None:
        self.arrays = {"mask": mask}

    def indices(self, split: str) -> np.ndarray:
        return np.arange(len(self.arrays["mask"]))


def test_positive_weight_is_the_root_of_the_class_ratio_within_bounds() -> None:
    mask = np.zeros((1, 10, 10), np.uint8)
    mask[0, 0, :4] = 1  # 4 positive pixels
    mask[0, 1, :] = 255  # 10 unknown, counted in neither class: 86 negative
    assert positive_weight([MaskOnly(mask)], cap=10.0) == pytest.approx(np.sqrt(86 / 4), rel=1e-12)
    assert positive_weight([MaskOnly(mask)], cap=3.0) == 3.0
    assert positive_weight([MaskOnly(np.ones((1, 4, 4), np.uint8))], cap=10.0) == 1.0
