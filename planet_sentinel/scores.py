"""Confusion counts, score histograms and thresholds of the change class (what evaluation scores with).

Scores are accumulated as fixed-edge histograms per class (1000 bins for probabilities), so
confusion counts at any bin-edge threshold, average precision and precision-recall curves come
from summed histograms: exact for thresholds on the bin grid, streamable over scenes of any size,
and "overall" is the micro-average (summed confusion counts) across scenes. Pixels whose label is
unknown (255) are excluded; NaN scores are abstentions and never count as detected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN
from planet_sentinel.errors import SentinelError

# --------------------------------------------------------------------------------------------
# Confusion counts and metrics
# --------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Confusion counts of the change class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def of(cls, predicted: np.ndarray, truth: np.ndarray) -> Counts:
        """Counts of boolean ``predicted`` against a 0/1/255 (or boolean) ``truth``; 255 excluded."""
        truth = np.asarray(truth)
        predicted = np.asarray(predicted, bool)
        if predicted.shape != truth.shape:
            raise SentinelError(f"prediction {predicted.shape} and truth {truth.shape} differ in shape")
        known = truth != MASK_UNKNOWN if truth.dtype != bool else np.ones(truth.shape, bool)
        pos = known & (truth == 1)
        neg = known & (truth == 0)
        tp = int(np.count_nonzero(predicted & pos))
        fp = int(np.count_nonzero(predicted & neg))
        return cls(tp, fp, int(np.count_nonzero(pos)) - tp, int(np.count_nonzero(neg)) - fp)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @staticmethod
    def _ratio(num: int, den: int, empty: float) -> float:
        return num / den if den else empty

    @property
    def _empty(self) -> float:
        # nothing to find and nothing found is perfect agreement; otherwise an undefined ratio is 0
        return 1.0 if self.tp + self.fp + self.fn == 0 else 0.0

    @property
    def precision(self) -> float:
        return self._ratio(self.tp, self.tp + self.fp, self._empty)

    @property
    def recall(self) -> float:
        return self._ratio(self.tp, self.tp + self.fn, self._empty)

    @property
    def f1(self) -> float:
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn, 1.0)

    @property
    def iou(self) -> float:
        return self._ratio(self.tp, self.tp + self.fp + self.fn, 1.0)

    def metrics(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "iou": self.iou}

    def to_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def _bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value: bin i holds edges[i] <= v < edges[i+1]; outside values clipped."""
    idx = np.searchsorted(edges, values, side="right") - 1
    return np.clip(idx, 0, len(edges) - 2)


def average_precision_from_histograms(pos: np.ndarray, neg: np.ndarray, missed: int = 0) -> float:
    """Average precision (area under the step precision-recall curve, as scikit-learn defines it)
    from per-class score histograms; ``missed`` positives are never detected at any threshold.
    NaN when there are no positives."""
    tp = np.cumsum(pos[::-1], dtype=np.float64)
    fp = np.cumsum(neg[::-1], dtype=np.float64)
    total = tp[-1] + missed if len(tp) else float(missed)
    if total == 0:
        return float("nan")
    predicted = tp + fp
    step = np.diff(np.concatenate([[0.0], tp])) / total
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    return float(np.sum(step * precision))


def pr_curve(pos: np.ndarray, neg: np.ndarray, missed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every bin-edge threshold, high threshold first."""
    tp = np.cumsum(pos[::-1], dtype=np.float64)
    fp = np.cumsum(neg[::-1], dtype=np.float64)
    total = tp[-1] + missed if len(tp) else float(missed)
    keep = (tp + fp) > 0
    recall = tp[keep] / total if total else np.zeros(int(keep.sum()))
    return recall, tp[keep] / (tp + fp)[keep]


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def otsu_from_histogram(counts: np.ndarray, edges: np.ndarray) -> float:
    """Otsu's threshold (maximal between-class variance) of a histogram: a bin edge ``t`` such
    that values >= t form the upper class. NaN for an empty histogram."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1]  # lower class = bins 0..k, threshold edges[k + 1]
    w1 = total - w0
    m0 = np.cumsum(counts * centres)[:-1]
    m1 = (counts * centres).sum() - m0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - m1 / w1) ** 2
    between = np.where((w0 > 0) & (w1 > 0), between, -1.0)
    if between.max() < 0:  # a single occupied bin
        return float(edges[int(np.flatnonzero(counts)[0])])
    best = np.flatnonzero(between >= between.max() * (1 - 1e-12))
    # a flat optimum (an empty gap between two modes): take the middle of the gap
    k = int(best[len(best) // 2])
    return float(edges[k + 1])


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of the finite values of an array (256 bins over their range)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise SentinelError("Otsu threshold of an empty set of values")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.bincount(_bins(values, edges), minlength=bins)
    return otsu_from_histogram(counts, edges)


def _best_f1(pos: np.ndarray, neg: np.ndarray, missed: int = 0) -> tuple[int, float]:
    """(bin index k, F1) of the threshold edges[k] with the best F1 (middle of a plateau)."""
    tp = np.cumsum(pos[::-1])[::-1].astype(np.float64)  # tp at threshold edges[k] = pos[k:].sum()
    fp = np.cumsum(neg[::-1])[::-1].astype(np.float64)
    fn = pos.sum() + missed - tp
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    best = float(f1.max())
    run = np.flatnonzero(f1 >= best - 1e-12)
    first = int(run[0])
    end = first
    while end + 1 < len(f1) and f1[end + 1] >= best - 1e-12:
        end += 1
    return (first + end + 1) // 2 if end > first else first, best


def threshold_by_f1(probabilities: np.ndarray, truth: np.ndarray, bins: int = 1000) -> tuple[float, float]:
    """The decision threshold on probabilities with the best F1 against a truth mask.

    ``truth`` is 0/1 with 255 unknown (or boolean); NaN probabilities count as not changed.
    The threshold is a multiple of 1/bins (predict positive where probability >= threshold);
    where a range of thresholds ties, the middle of it. Returns (threshold, F1).
    """
    acc = ScoreAccumulator("probability", np.linspace(0.0, 1.0, bins + 1))
    acc.add(np.asarray(probabilities, np.float32), np.asarray(truth))
    if acc.pos.sum() + acc.missed == 0:
        raise SentinelError("threshold_by_f1: the truth has no changed pixels; cannot choose a threshold")
    k, f1 = _best_f1(acc.pos, acc.neg, acc.missed)
    return float(acc.edges[k]), f1


def threshold_for_precision(
    probabilities: np.ndarray, truth: np.ndarray, precision: float = 0.9, floor: float = 0.0, bins: int = 1000
) -> float | None:
    """The lowest threshold (at least ``floor``) at which pixel precision reaches ``precision``.

    Why: alerts carry a ``high`` confidence (GLAD-S2 and RADD publish two levels) at a stricter
    threshold than the F1-best one; chosen on validation chips, never on the scene it is used on.
    None when no threshold reaches the precision (then every alert stays ``nominal``).
    """
    acc = ScoreAccumulator("probability", np.linspace(0.0, 1.0, bins + 1))
    acc.add(np.asarray(probabilities, np.float32), np.asarray(truth))
    tp = np.cumsum(acc.pos[::-1])[::-1].astype(np.float64)
    fp = np.cumsum(acc.neg[::-1])[::-1].astype(np.float64)
    reached = (tp > 0) & (tp >= precision * (tp + fp)) & (acc.edges[:-1] >= floor - 1e-12)
    hits = np.flatnonzero(reached)
    return float(acc.edges[hits[0]]) if hits.size else None


# --------------------------------------------------------------------------------------------
# Accumulating scores
# --------------------------------------------------------------------------------------------


@dataclass
class ScoreAccumulator:
    """Histograms of one score over changed, unchanged and all valid pixels.

    NaN scores are abstentions: they never count as detected. With a ``fixed_threshold`` the
    confusion counts are also accumulated exactly, pixel by pixel.
    """

    name: str
    edges: np.ndarray
    fixed_threshold: float | None = None
    pos: np.ndarray = field(init=False)
    neg: np.ndarray = field(init=False)
    valid: np.ndarray = field(init=False)
    missed: int = 0
    abstained_negatives: int = 0
    exact: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        n = len(self.edges) - 1
        self.pos = np.zeros(n, np.int64)
        self.neg = np.zeros(n, np.int64)
        self.valid = np.zeros(n, np.int64)

    def add(self, scores: np.ndarray, truth: np.ndarray) -> None:
        truth = np.asarray(truth)
        if scores.shape != truth.shape:
            raise SentinelError(f"scores {scores.shape} and truth {truth.shape} differ in shape")
        n = len(self.edges) - 1
        finite = np.isfinite(scores)
        if truth.dtype == bool:
            pos, neg = truth, ~truth
        else:
            pos, neg = truth == 1, truth == 0
        idx = _bins(scores[finite], self.edges)
        self.valid += np.bincount(idx, minlength=n)
        self.pos += np.bincount(idx[pos[finite]], minlength=n)
        self.neg += np.bincount(idx[neg[finite]], minlength=n)
        self.missed += int(np.count_nonzero(pos & ~finite))
        self.abstained_negatives += int(np.count_nonzero(neg & ~finite))
        if self.fixed_threshold is not None:
            predicted = finite & (np.nan_to_num(scores, nan=-np.inf) >= self.fixed_threshold)
            self.exact = self.exact + Counts.of(predicted, truth)

    def merge(self, other: ScoreAccumulator) -> None:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("cannot merge score histograms with different edges")
        self.pos += other.pos
        self.neg += other.neg
        self.valid += other.valid
        self.missed += other.missed
        self.abstained_negatives += other.abstained_negatives
        self.exact = self.exact + other.exact

    def counts_at(self, threshold: float) -> Counts:
        """Confusion counts predicting change where score >= threshold (snapped up to a bin edge)."""
        k = int(np.searchsorted(self.edges, threshold - 1e-12, side="left"))
        k = min(max(k, 0), len(self.pos))
        tp, fp = int(self.pos[k:].sum()), int(self.neg[k:].sum())
        return Counts(
            tp, fp, int(self.pos.sum()) - tp + self.missed, int(self.neg.sum()) - fp + self.abstained_negatives
        )

    def average_precision(self) -> float:
        return average_precision_from_histograms(self.pos, self.neg, self.missed)

    def otsu(self) -> float:
        return otsu_from_histogram(self.valid, self.edges)

    def best_f1_threshold(self) -> tuple[float, float]:
        k, f1 = _best_f1(self.pos, self.neg, self.missed)
        return float(self.edges[k]), f1
