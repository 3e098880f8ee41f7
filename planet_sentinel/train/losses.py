"""The training loss: weighted BCE plus soft Dice over known pixels, and the positive-class weight
the chips call for (forest loss is rare, so an unweighted BCE learns to say "no change").

torchgeo's ``ChangeDetectionTask.configure_losses`` (torchgeo/trainers/change.py in
github.com/microsoft/torchgeo) is the same seam: the loss is chosen apart from the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from planet_sentinel.bands import MASK_UNKNOWN
from planet_sentinel.chips import ChipStore

if TYPE_CHECKING:
    import torch


def masked_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float, dice_weight: float) -> torch.Tensor:
    """Weighted BCE + soft Dice over known pixels only (255 = unknown is ignored)."""
    import torch
    import torch.nn.functional as F

    valid = target != MASK_UNKNOWN
    if not bool(valid.any()):
        return logits.sum() * 0.0
    y = (target == 1).float()
    logit = logits.squeeze(1)
    weight = torch.where(y > 0, torch.full_like(y, pos_weight), torch.ones_like(y)) * valid
    bce = F.binary_cross_entropy_with_logits(logit.float(), y, weight=weight, reduction="sum") / valid.sum()
    if not dice_weight:
        return bce
    prob = torch.sigmoid(logit.float()) * valid
    y = y * valid
    dice = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
    return bce + dice_weight * dice


def positive_weight(stores: Sequence[ChipStore], cap: float) -> float:
    """The BCE weight of loss pixels: the square root of the negative/positive ratio of the train
    split's known pixels, between 1 and ``cap``."""
    positives = sum(float((s.arrays["mask"][s.indices("train")] == 1).sum()) for s in stores)
    negatives = sum(float((s.arrays["mask"][s.indices("train")] == 0).sum()) for s in stores)
    return float(min(cap, max(1.0, negatives / max(positives, 1.0)) ** 0.5))
