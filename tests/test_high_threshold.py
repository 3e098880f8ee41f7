"""The stricter threshold of high-confidence alerts: chosen on validation for precision >= 0.9."""

from __future__ import annotations

import numpy as np

from planet_sentinel.scores import threshold_by_f1, threshold_for_precision


def test_lowest_threshold_reaching_the_precision_above_the_f1_one() -> None:
    # 100 changed pixels spread over 0.3..0.99, 100 unchanged pixels over 0.0..0.7: precision rises with
    # the threshold and reaches 0.9 only where few unchanged pixels remain above it.
    truth = np.r_[np.ones(100), np.zeros(100)].astype(np.uint8)
    probs = np.r_[np.linspace(0.3, 0.99, 100), np.linspace(0.0, 0.7, 100)].astype(np.float32)
    f1_threshold, _ = threshold_by_f1(probs, truth)
    high = threshold_for_precision(probs, truth, 0.9, floor=f1_threshold)
    assert high is not None and high >= f1_threshold
    predicted = probs >= high
    assert (truth[predicted] == 1).mean() >= 0.9
    lower = high - 0.01  # one step lower no longer reaches it
    assert (truth[probs >= lower] == 1).mean() < 0.9 or lower < f1_threshold


def test_none_when_no_threshold_reaches_the_precision() -> None:
    truth = np.r_[np.ones(10), np.zeros(90)].astype(np.uint8)
    probs = np.full(100, 0.8, np.float32)  # changed and unchanged indistinguishable: precision 0.1 everywhere
    assert threshold_for_precision(probs, truth, 0.9) is None
