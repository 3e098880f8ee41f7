"""One fold's training and its scoring: the model and the spectral baselines on whole held-out cities."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench.oscd.cities import CityScene
from tools.bench.oscd.settings import BASELINES, rounded

if TYPE_CHECKING:
    from planet_sentinel.evaluate import SceneEvaluation
    from planet_sentinel.train import TrainResult


def train_fold(
    root: Path, run_dir: Path, fixed: dict[str, Any], epochs: int | None, minutes: float | None
) -> tuple[TrainResult, dict[str, Any]]:
    """Train on a fold's chip root, normalised by its training chips; the result and the config used."""
    from planet_sentinel.baseline import BaselineConfig, compute_baseline
    from planet_sentinel.train import TrainConfig, train

    baseline = compute_baseline(root, BaselineConfig(split="train", pixel_sample=100))
    config = TrainConfig(**{**fixed, "epochs": epochs or fixed.get("epochs", 1), "max_minutes": minutes})
    result = train(root, run_dir, config, baseline=baseline)
    return result, config.model_dump()


def tuned_ndvi(root: Path, batch_size: int) -> tuple[float | None, str]:
    """The NDVI-difference threshold tuned on the fold's training chips (never the held-out cities)."""
    from planet_sentinel.chips import ChipStore, find_chip_dirs
    from planet_sentinel.evaluate import tune_ndvi_threshold

    stores = [ChipStore(d) for d in find_chip_dirs(root)]
    return tune_ndvi_threshold(stores, "train", batch_size, False)


def evaluate_cities(
    bundle_path: Path,
    scenes: dict[str, CityScene],
    cities: Sequence[str],
    ndvi_threshold: float | None,
    batch_size: int,
) -> list[SceneEvaluation]:
    """Each city scored whole by the tiled predictor of ``sentinel predict``, cloud screen off."""
    from planet_sentinel.evaluate import evaluate_scene
    from planet_sentinel.model_bundle import load_bundle

    bundle = load_bundle(bundle_path)
    return [
        evaluate_scene(
            bundle,
            scenes[c].before,
            scenes[c].after,
            scenes[c].mask,
            name=c,
            batch_size=batch_size,
            screen=False,
            ndvi_threshold=ndvi_threshold,
        ).scenes[0]
        for c in cities
    ]


def scene_record(scene: SceneEvaluation) -> dict[str, Any]:
    """A scene's scores as in evaluation.json (``sentinel evaluate``): no ``note`` on a method without one."""
    data = scene.to_scores().model_dump(mode="json")
    for scores in data["methods"].values():
        if scores["note"] is None:
            del scores["note"]
    return data


def scene_figures(scene: SceneEvaluation, fold: str, threshold: float) -> dict[str, Any]:
    """One held-out city's figures: the model's at the fold's threshold and at its own best, the baselines' F1."""
    model = scene.methods["model"]
    assert model.scores is not None  # evaluate_scene keeps every method's histograms
    oracle_threshold, oracle_f1 = model.scores.best_f1_threshold()
    return {
        "fold": fold,
        "f1": rounded(model.counts.f1),
        "precision": rounded(model.counts.precision),
        "recall": rounded(model.counts.recall),
        "ap": rounded(model.average_precision),
        "threshold": rounded(threshold),
        "oracle_f1": rounded(oracle_f1),
        "oracle_threshold": rounded(oracle_threshold),
        "baselines_f1": {m: rounded(scene.methods[m].counts.f1) for m in BASELINES if m in scene.methods},
        "changed_pixels": scene.pixels["changed"],
    }


def overall_figures(scenes: Sequence[SceneEvaluation]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Micro average over the scenes (summed counts, merged histograms): the model's figures, the baselines'."""
    from planet_sentinel.evaluate import EvaluationReport

    overall = EvaluationReport(list(scenes), {}).overall
    model = overall["model"]
    figures = {
        "f1": rounded(model.counts.f1),
        "precision": rounded(model.counts.precision),
        "recall": rounded(model.counts.recall),
        "ap": rounded(model.average_precision),
        **model.counts.to_dict(),
    }
    baselines = {
        m: {"f1": rounded(overall[m].counts.f1), "ap": rounded(overall[m].average_precision)}
        for m in BASELINES
        if m in overall
    }
    return figures, baselines
