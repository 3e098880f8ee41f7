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

Scores are accumulated as fixed-edge histograms per class (``planet_sentinel.scores``); the
report and its ``evaluation.json`` artefact are in ``planet_sentinel.evaluation_report``. Both
modules' public names are re-exported here, where callers have always imported them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.bands import MASK_UNKNOWN, BandOrder, band_positions, missing_bands, require_bands
from planet_sentinel.errors import SentinelError
from planet_sentinel.evaluation_report import (
    METHOD_LABELS,
    METHODS,
    EvaluationRecord,
    EvaluationReport,
    MethodResult,
    MethodScores,
    SceneEvaluation,
    SceneScores,
)
from planet_sentinel.scores import (
    Counts,
    ScoreAccumulator,
    average_precision_from_histograms,
    otsu_from_histogram,
    otsu_threshold,
    pr_curve,
    threshold_by_f1,
)

if TYPE_CHECKING:
    import torch

    from planet_sentinel.chips import ChipStore
    from planet_sentinel.clouds import CloudScreen
    from planet_sentinel.model_bundle import ModelBundle

__all__ = [
    "CVA_EDGES",
    "METHODS",
    "METHOD_LABELS",
    "NDVI_BANDS",
    "NDVI_DIFF_EDGES",
    "PROBABILITY_EDGES",
    "Counts",
    "EvaluationRecord",
    "EvaluationReport",
    "MethodResult",
    "MethodScores",
    "SceneEvaluation",
    "SceneScores",
    "ScoreAccumulator",
    "average_precision_from_histograms",
    "change_vector_magnitude",
    "evaluate_chips",
    "evaluate_scene",
    "ndvi_difference",
    "otsu_from_histogram",
    "otsu_threshold",
    "pr_curve",
    "threshold_by_f1",
    "tune_ndvi_threshold",
]

#: Histogram edges per score: probabilities, NDVI difference (-2..2), CVA magnitude (std units).
PROBABILITY_EDGES = np.linspace(0.0, 1.0, 1001)
NDVI_DIFF_EDGES = np.linspace(-2.0, 2.0, 2001)
CVA_EDGES = np.linspace(0.0, 25.0, 2501)
NDVI_BANDS = ("B04", "B08")


# --------------------------------------------------------------------------------------------
# Baseline scores
# --------------------------------------------------------------------------------------------


def ndvi_difference(before: np.ndarray, after: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    """NDVI(before) - NDVI(after) of (..., bands, H, W) reflectance: positive where green is lost."""
    from planet_sentinel.baseline import ndvi

    names = list(bands)
    r, n = band_positions(
        NDVI_BANDS, names, lambda missing: f"NDVI needs bands {list(NDVI_BANDS)}; {missing} missing from {names}"
    )
    before_ndvi = ndvi(before[..., r, :, :], before[..., n, :, :])
    difference: np.ndarray = before_ndvi - ndvi(after[..., r, :, :], after[..., n, :, :])
    return difference


def change_vector_magnitude(
    before: np.ndarray, after: np.ndarray, bands: Sequence[str], bundle: ModelBundle
) -> np.ndarray:
    """Magnitude of the after - before vector over the bundle's bands, each divided by its std."""
    names = list(bands)
    positions = band_positions(
        bundle.bands,
        names,
        lambda missing: f"change vector analysis needs the model's bands; {missing} missing from {names}",
    )
    total = np.zeros(before.shape[:-3] + before.shape[-2:], np.float32)
    for i, std in zip(positions, bundle.std, strict=True):
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


def _labelled_with_model_bands(store: ChipStore, bundle: ModelBundle) -> ChipStore:
    """``store``, refused unless its chips are labelled and hold the model's bands."""
    if not store.labelled:
        raise SentinelError(f"{store.directory}: chips have no mask; evaluation needs labelled chips")
    require_bands(
        bundle.bands,
        store.bands,
        lambda missing: f"{store.directory}: chips lack the model's bands {missing} (they have {list(store.bands)})",
    )
    return store


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

    stores = [_labelled_with_model_bands(ChipStore(d), bundle) for d in find_chip_dirs(chips_dir)]
    selected = [(s, s.indices(split)) for s in stores]
    if not any(len(idx) for _, idx in selected):
        raise SentinelError(f"{chips_dir}: no chips in the {split!r} split in {len(stores)} chips director(ies)")
    threshold = bundle.threshold if threshold is None else float(threshold)
    with_ndvi = all(not missing_bands(NDVI_BANDS, s.bands) for s in stores)
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
    with_ndvi = not missing_bands(NDVI_BANDS, scene_bands)
    model_bands = input_bands(bundle, screen)
    wanted = model_bands + (missing_bands(NDVI_BANDS, model_bands) if with_ndvi else [])
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


class EvaluateConfig(BaseModel):
    """Settings of ``sentinel evaluate`` (section ``evaluate`` of params.yaml, env SENTINEL_EVALUATE_*)."""

    model_config = ConfigDict(extra="forbid")

    split: str = Field(default="test", description="Split of the chips to score (chip evaluations only).")
    log: bool = Field(default=True, description="Log the scores and files to the model's MLflow run.")


@dataclass(frozen=True)
class EvaluationRun:
    """What the evaluate stage produced: the report and the files it was written to."""

    report: EvaluationReport
    paths: dict[str, Path]


def run_evaluation(
    model: ModelBundle | str | Path,
    out_dir: str | Path,
    config: EvaluateConfig | None = None,
    *,
    chips_dir: str | Path | None = None,
    scene: tuple[str | Path, str | Path, str | Path] | None = None,
    order: BandOrder | None = None,
    overwrite: bool = False,
) -> EvaluationRun:
    """The evaluate stage: score ``model`` on a chip split (``chips_dir``) or a labelled scene
    (``scene`` = before, after, mask), write the report into ``out_dir`` and log it to MLflow."""
    from planet_sentinel.model_bundle import ModelBundle
    from planet_sentinel.registry import load_model, log_evaluation

    if (chips_dir is None) == (scene is None):
        raise SentinelError("evaluate either a chips directory or a (before, after, mask) scene")
    config = config or EvaluateConfig()
    bundle = model if isinstance(model, ModelBundle) else load_model(model)
    if scene is not None:
        report = evaluate_scene(bundle, *scene, order=order)
    else:
        report = evaluate_chips(bundle, chips_dir or "", config.split)
    paths = report.write(out_dir, overwrite=overwrite)
    if config.log:
        log_evaluation(bundle, report, paths)
    return EvaluationRun(report, paths)
