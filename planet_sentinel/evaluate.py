"""Metrics of the change class, and the spectral baselines the model must beat.

Scoring follows one rule for every method: pixels whose label is unknown (255) are excluded;
pixels the predictor leaves unknown (nodata, or flagged by the cloud screen) count as *not
changed* for every method alike, so abstaining never improves a score; every method sees the
same pixels.

Methods:

* ``model``: the bundle's probability at its decision threshold (or one given);
* ``ndvi_otsu``: NDVI difference (before - after) with an Otsu threshold computed on that scene's
  valid pixels (no labels needed);
* ``ndvi_tuned``: the same index with the threshold that maximises F1 on a tuning set (the train
  split of the chips);
* ``cva_otsu``: change-vector analysis, the magnitude of the after - before difference over the
  bundle's bands, each standardised by the bundle's std, with an Otsu threshold.

Scores are accumulated as fixed-edge histograms per class (1000 bins for probabilities), so
confusion counts at any bin-edge threshold, average precision and precision-recall curves come
from summed histograms: exact for thresholds on the bin grid, streamable over scenes of any size,
and "overall" is the micro-average (summed confusion counts) across scenes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder
from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    import torch

    from planet_sentinel.bundle import ModelBundle
    from planet_sentinel.clouds import CloudScreen

METHODS = ("model", "ndvi_otsu", "ndvi_tuned", "cva_otsu")
METHOD_LABELS = {
    "model": "Siamese U-Net",
    "ndvi_otsu": "NDVI difference, Otsu",
    "ndvi_tuned": "NDVI difference, tuned threshold",
    "cva_otsu": "Change vector analysis, Otsu",
}
#: Histogram edges per score: probabilities, NDVI difference (-2..2), CVA magnitude (std units).
PROBABILITY_EDGES = np.linspace(0.0, 1.0, 1001)
NDVI_DIFF_EDGES = np.linspace(-2.0, 2.0, 2001)
CVA_EDGES = np.linspace(0.0, 25.0, 2501)
NDVI_BANDS = ("B04", "B08")


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


@dataclass
class MethodResult:
    """One method's confusion counts, threshold and ranking quality on one scene (or overall)."""

    method: str
    counts: Counts
    threshold: float | None
    average_precision: float
    scores: ScoreAccumulator | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: _finite(v) for k, v in self.counts.metrics().items()},
            "ap": _finite(self.average_precision),
            **self.counts.to_dict(),
            "threshold": _finite(self.threshold),
            **({"note": self.note} if self.note else {}),
        }


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


# --------------------------------------------------------------------------------------------
# Baseline scores
# --------------------------------------------------------------------------------------------


def ndvi_difference(before: np.ndarray, after: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """NDVI(before) - NDVI(after) of (..., bands, H, W) reflectance: positive where green is lost."""
    from planet_sentinel.drift.baseline import ndvi

    names = list(bands)
    missing = [b for b in NDVI_BANDS if b not in names]
    if missing:
        raise SentinelError(f"NDVI needs bands {list(NDVI_BANDS)}; {missing} missing from {names}")
    r, n = names.index("B04"), names.index("B08")
    return ndvi(before[..., r, :, :], before[..., n, :, :]) - ndvi(after[..., r, :, :], after[..., n, :, :])


def change_vector_magnitude(
    before: np.ndarray, after: np.ndarray, bands: Sequence[str], bundle: ModelBundle
) -> np.ndarray:
    """Magnitude of the after - before vector over the bundle's bands, each divided by its std."""
    names = list(bands)
    missing = [b for b in bundle.bands if b not in names]
    if missing:
        raise SentinelError(f"change vector analysis needs the model's bands; {missing} missing from {names}")
    total = np.zeros(before.shape[:-3] + before.shape[-2:], np.float32)
    for band, std in zip(bundle.bands, bundle.std, strict=True):
        i = names.index(band)
        d = (after[..., i, :, :].astype(np.float32) - before[..., i, :, :].astype(np.float32)) / np.float32(std)
        total += d * d
    return np.sqrt(total)


class _SceneScorer:
    """Accumulates the model and every baseline over the windows or chips of one scene."""

    def __init__(
        self, name: str, bundle: ModelBundle, threshold: float, ndvi_threshold: float | None, with_ndvi: bool
    ) -> None:
        self.name = name
        self.bundle = bundle
        self.threshold = threshold
        self.ndvi_threshold = ndvi_threshold
        self.with_ndvi = with_ndvi
        self.acc = {
            "model": ScoreAccumulator("model", PROBABILITY_EDGES, threshold),
            "cva_otsu": ScoreAccumulator("cva_otsu", CVA_EDGES),
        }
        if with_ndvi:
            self.acc["ndvi_otsu"] = ScoreAccumulator("ndvi_otsu", NDVI_DIFF_EDGES)
            self.acc["ndvi_tuned"] = ScoreAccumulator("ndvi_tuned", NDVI_DIFF_EDGES, ndvi_threshold)
        self.pixels = {"total": 0, "labelled": 0, "changed": 0, "abstained": 0}

    def add(
        self, prob: np.ndarray, before: np.ndarray, after: np.ndarray, bands: Sequence[str], truth: np.ndarray
    ) -> None:
        """``prob`` (..., H, W) with NaN unknown; ``before``/``after`` (..., bands, H, W)."""
        unknown = np.isnan(prob)
        self.acc["model"].add(prob, truth)
        cva = change_vector_magnitude(before, after, bands, self.bundle)
        cva[unknown] = np.nan
        self.acc["cva_otsu"].add(cva, truth)
        if self.with_ndvi:
            nd = ndvi_difference(before, after, bands)
            nd[unknown] = np.nan
            self.acc["ndvi_otsu"].add(nd, truth)
            self.acc["ndvi_tuned"].add(nd, truth)
        labelled = truth != MASK_UNKNOWN
        self.pixels["total"] += int(truth.size)
        self.pixels["labelled"] += int(np.count_nonzero(labelled))
        self.pixels["changed"] += int(np.count_nonzero(truth == 1))
        self.pixels["abstained"] += int(np.count_nonzero(labelled & unknown))

    def result(self, notes: dict[str, str]) -> SceneEvaluation:
        methods: dict[str, MethodResult] = {}
        for method in METHODS:
            acc = self.acc.get(method)
            if acc is None:
                continue
            if method == "model":
                threshold: float | None = self.threshold
                counts = acc.exact
            elif method == "ndvi_tuned" and self.ndvi_threshold is not None:
                threshold, counts = self.ndvi_threshold, acc.exact
            elif method == "ndvi_tuned":  # tuned on the scene itself
                threshold = acc.best_f1_threshold()[0] if acc.pos.sum() else acc.otsu()
                counts = acc.counts_at(threshold)
            else:
                threshold = acc.otsu()
                counts = acc.counts_at(threshold) if math.isfinite(threshold) else acc.counts_at(math.inf)
            methods[method] = MethodResult(
                method, counts, threshold, acc.average_precision(), acc, notes.get(method, "")
            )
        return SceneEvaluation(self.name, methods, dict(self.pixels))


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


@dataclass
class SceneEvaluation:
    """All methods scored on one scene."""

    name: str
    methods: dict[str, MethodResult]
    pixels: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pixels": self.pixels, "methods": {k: v.to_dict() for k, v in self.methods.items()}}


@dataclass
class EvaluationReport:
    """Per-scene and overall (micro-averaged) scores of the model and the baselines."""

    scenes: list[SceneEvaluation]
    model: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> dict[str, MethodResult]:
        """Summed confusion counts and histograms over every scene."""
        result: dict[str, MethodResult] = {}
        for method in METHODS:
            parts = [s.methods[method] for s in self.scenes if method in s.methods]
            if not parts:
                continue
            counts = Counts()
            merged: ScoreAccumulator | None = None
            for part in parts:
                counts = counts + part.counts
                if part.scores is not None:
                    if merged is None:
                        merged = ScoreAccumulator(method, part.scores.edges)
                    merged.merge(part.scores)
            thresholds = {p.threshold for p in parts}
            threshold = thresholds.pop() if len(thresholds) == 1 else None
            ap = merged.average_precision() if merged is not None else float("nan")
            result[method] = MethodResult(method, counts, threshold, ap, merged, parts[0].note)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "settings": self.settings,
            "notes": self.notes,
            "scenes": [s.to_dict() for s in self.scenes],
            "overall": {k: v.to_dict() for k, v in self.overall.items()},
        }

    def to_markdown(self) -> str:
        lines = ["# Evaluation", ""]
        if self.settings:
            lines += [", ".join(f"{k}: {v}" for k, v in self.settings.items()), ""]
        header = "| scene | method | precision | recall | F1 | IoU | AP | threshold |"
        lines += [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
        rows = [(s.name, s.methods) for s in self.scenes] + [("**overall**", self.overall)]
        for name, methods in rows:
            for method, res in methods.items():
                m = res.to_dict()
                cells = [m["precision"], m["recall"], m["f1"], m["iou"], m["ap"]]
                text = ["-" if v is None else f"{v:.3f}" for v in cells]
                thr = "per scene" if res.threshold is None else f"{res.threshold:.4g}"
                lines.append(f"| {name} | {METHOD_LABELS[method]} | {' | '.join(text)} | {thr} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
        """Write evaluation.json, evaluation.md and (with matplotlib) evaluation.png atomically."""
        from planet_sentinel.raster import refuse_existing, write_text_atomic

        out = Path(out_dir)
        paths = {"json": out / "evaluation.json", "markdown": out / "evaluation.md", "png": out / "evaluation.png"}
        refuse_existing(list(paths.values()), overwrite)
        write_text_atomic(paths["json"], json.dumps(self.to_dict(), indent=2) + "\n")
        write_text_atomic(paths["markdown"], self.to_markdown())
        try:
            self._plot(paths["png"])
        except ImportError:  # matplotlib is an optional dependency (train/dev extras)
            del paths["png"]
        return paths

    def _plot(self, target: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from planet_sentinel.raster import atomic_path

        overall = self.overall
        methods = list(overall)
        fig, (ax_bar, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.2))
        x = np.arange(len(methods))
        f1 = [overall[m].counts.f1 for m in methods]
        iou = [overall[m].counts.iou for m in methods]
        ax_bar.bar(x - 0.2, f1, 0.4, label="F1")
        ax_bar.bar(x + 0.2, iou, 0.4, label="IoU")
        ax_bar.set_xticks(x, [METHOD_LABELS[m].replace(", ", "\n") for m in methods], fontsize=8)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_title("overall, change class")
        ax_bar.legend()
        for method in methods:
            acc = overall[method].scores
            if acc is None or acc.pos.sum() == 0:
                continue
            recall, precision = pr_curve(acc.pos, acc.neg, acc.missed)
            ax_pr.plot(recall, precision, label=f"{METHOD_LABELS[method]} (AP {overall[method].average_precision:.2f})")
        ax_pr.set_xlabel("recall")
        ax_pr.set_ylabel("precision")
        ax_pr.set_xlim(0, 1)
        ax_pr.set_ylim(0, 1.02)
        ax_pr.set_title("precision-recall")
        ax_pr.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        return target


# --------------------------------------------------------------------------------------------
# Chips and scenes
# --------------------------------------------------------------------------------------------


def tune_ndvi_threshold(
    stores: Sequence[Any], split: str, batch_size: int, screen: CloudScreen | bool
) -> tuple[float | None, str]:
    """The NDVI-difference threshold with the best F1 over a split's chips, and a note."""
    from planet_sentinel.predict import unknown_pixels

    acc = ScoreAccumulator("ndvi_tune", NDVI_DIFF_EDGES)
    n_chips = 0
    for store in stores:
        idx = store.indices(split)
        n_chips += len(idx)
        for batch in store.batches(idx, batch_size):
            nd = ndvi_difference(batch["before"], batch["after"], store.bands)
            for i in range(len(nd)):
                nd[i][unknown_pixels(batch["before"][i], batch["after"][i], store.bands, screen)] = np.nan
            acc.add(nd, batch["mask"])
    if acc.pos.sum() == 0:
        return None, (
            f"no changed pixels in the {split!r} split ({n_chips} chips) to tune on; tuned on the evaluated scene"
        )
    threshold, f1 = acc.best_f1_threshold()
    return threshold, f"tuned on the {split!r} split ({n_chips} chips, F1 {f1:.3f} there)"


def evaluate_chips(
    bundle: ModelBundle,
    chips_dir: str | Path,
    split: str = "test",
    tune_split: str = "train",
    batch_size: int = 8,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
    threshold: float | None = None,
) -> EvaluationReport:
    """Score the model and the baselines on every chip of ``split``.

    ``chips_dir`` is one chips directory (one scene) or a root holding several; each is a scene
    of the report. Chips are whole model windows, predicted in batches through
    :func:`planet_sentinel.predict.predict_batch`. The tuned NDVI threshold is chosen on
    ``tune_split`` over all scenes together. ``threshold`` overrides the bundle's.
    """
    from planet_sentinel.chips import ChipStore, find_chip_dirs
    from planet_sentinel.predict import model_info, predict_batch, resolve_device

    dirs = find_chip_dirs(chips_dir)
    stores = [ChipStore(d) for d in dirs]
    for store in stores:
        if not store.labelled:
            raise SentinelError(f"{store.directory}: chips have no mask; evaluation needs labelled chips")
        missing = [b for b in bundle.bands if b not in store.bands]
        if missing:
            raise SentinelError(
                f"{store.directory}: chips lack the model's bands {missing} (they have {list(store.bands)})"
            )
    selected = [(s, s.indices(split)) for s in stores]
    if not any(len(idx) for _, idx in selected):
        raise SentinelError(f"{chips_dir}: no chips in the {split!r} split in {len(stores)} chips director(ies)")
    threshold = bundle.threshold if threshold is None else float(threshold)
    with_ndvi = all(all(b in s.bands for b in NDVI_BANDS) for s in stores)
    notes: list[str] = []
    ndvi_threshold: float | None = None
    method_notes: dict[str, str] = {}
    if with_ndvi:
        ndvi_threshold, note = tune_ndvi_threshold(stores, tune_split, batch_size, screen)
        method_notes["ndvi_tuned"] = note
    else:
        notes.append(f"NDVI baselines skipped: chips lack {list(NDVI_BANDS)}")
    dev = resolve_device(device)
    scenes = []
    for store, idx in selected:
        if not len(idx):
            notes.append(f"{store.manifest.name}: no chips in split {split!r}")
            continue
        scorer = _SceneScorer(store.manifest.name, bundle, threshold, ndvi_threshold, with_ndvi)
        for batch in store.batches(idx, batch_size):
            prob = predict_batch(bundle, batch["before"], batch["after"], store.bands, dev, screen)
            scorer.add(prob, batch["before"], batch["after"], store.bands, batch["mask"])
        scenes.append(scorer.result(method_notes))
    settings = {
        "source": str(chips_dir),
        "split": split,
        "tune_split": tune_split,
        "threshold": threshold,
        "cloud_screen": screen is not False,
        "chips": int(sum(len(i) for _, i in selected)),
    }
    return EvaluationReport(scenes, model_info(bundle), settings, notes)


def evaluate_scene(
    bundle: ModelBundle,
    before: str | Path,
    after: str | Path,
    mask: str | Path,
    name: str | None = None,
    window: int | None = None,
    overlap: int = 64,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    screen: CloudScreen | bool = True,
    threshold: float | None = None,
    ndvi_threshold: float | None = None,
    order: BandOrder | None = None,
) -> EvaluationReport:
    """Score the model and the baselines on a whole labelled scene, streamed window by window.

    Windows come from the same tiling core as :func:`planet_sentinel.predict.predict_scene`, so
    the model's probabilities are exactly those a prediction writes. ``ndvi_threshold``: the
    tuned NDVI threshold from a tuning set; without it, it is tuned on this scene itself (an
    optimistic, oracle baseline, marked so in the report). ``order``: the band order the user
    stated, for scenes without band descriptions.
    """
    from planet_sentinel.predict import (
        input_bands,
        iter_tiles,
        model_info,
        plan_tiles,
        resolve_window,
        scene_name,
    )
    from planet_sentinel.raster import band_indexes, check_mask, check_scene_pair, io_env, open_raster

    before, after, mask = Path(before), Path(after), Path(mask)
    grid, scene_bands = check_scene_pair(before, after, (order or BandOrder()).with_example(bundle.bands))
    check_mask(mask, grid)
    threshold = bundle.threshold if threshold is None else float(threshold)
    with_ndvi = all(b in scene_bands for b in NDVI_BANDS)
    wanted = input_bands(bundle, screen) + (
        [b for b in NDVI_BANDS if b not in input_bands(bundle, screen)] if with_ndvi else []
    )
    win = resolve_window(bundle, window, grid.height, grid.width, overlap)
    tiles = plan_tiles(grid.height, grid.width, win, overlap)
    scorer = _SceneScorer(name or scene_name(before), bundle, threshold, ndvi_threshold, with_ndvi)
    notes = [] if with_ndvi else [f"NDVI baselines skipped: the scene lacks {list(NDVI_BANDS)}"]
    method_notes = {
        "ndvi_tuned": "given threshold"
        if ndvi_threshold is not None
        else "tuned on the evaluated scene itself (optimistic)"
    }
    with io_env(), open_raster(before) as src_b, open_raster(after) as src_a, open_raster(mask) as src_m:
        idx_b, idx_a = band_indexes(src_b, wanted, scene_bands), band_indexes(src_a, wanted, scene_bands)

        def read(t: Any) -> tuple[np.ndarray, np.ndarray]:
            w = t.read_window()
            return src_b.read(idx_b, window=w), src_a.read(idx_a, window=w)

        for item in iter_tiles(bundle, tiles, read, wanted, batch_size, device, screen):
            truth = src_m.read(1, window=item.tile.target_window())
            scorer.add(item.probability, item.before, item.after, wanted, truth)
    settings = {
        "source": str(before),
        "threshold": threshold,
        "window": win,
        "overlap": overlap,
        "cloud_screen": screen is not False,
    }
    return EvaluationReport([scorer.result(method_notes)], model_info(bundle), settings, notes)
