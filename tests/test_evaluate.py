"""Metrics, thresholds, baselines and the evaluation of chips and whole scenes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.chips import ChipConfig, chip_scene
from planet_sentinel.errors import SentinelError
from planet_sentinel.evaluate import (
    PROBABILITY_EDGES,
    Counts,
    ScoreAccumulator,
    average_precision_from_histograms,
    change_vector_magnitude,
    evaluate_chips,
    evaluate_scene,
    ndvi_difference,
    otsu_threshold,
    threshold_by_f1,
)
from planet_sentinel.raster import mask_writer
from tests.conftest import utm_grid
from tests.test_predict import OracleNet, land_pair, make_bundle, one_torch_thread, write_pair  # noqa: F401

# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def test_counts_and_metrics_on_hand_made_cases() -> None:
    truth = np.array([[1, 1, 1, 0, 0, 0, 0, 255, 255]], np.uint8)
    pred = np.array([[1, 1, 0, 1, 0, 0, 0, 1, 0]], bool)
    c = Counts.of(pred, truth)
    assert c.to_dict() == {"tp": 2, "fp": 1, "fn": 1, "tn": 3}
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)
    assert c.iou == pytest.approx(0.5)
    # nothing predicted although there is change
    none = Counts.of(np.zeros(4, bool), np.array([1, 0, 0, 0]))
    assert (none.precision, none.recall, none.f1, none.iou) == (0.0, 0.0, 0.0, 0.0)
    # nothing to find and nothing found: perfect agreement
    empty = Counts.of(np.zeros(4, bool), np.array([0, 0, 255, 0]))
    assert (empty.precision, empty.recall, empty.f1, empty.iou) == (1.0, 1.0, 1.0, 1.0)
    # every pixel wrong
    wrong = Counts.of(np.array([1, 0], bool), np.array([0, 1]))
    assert wrong.f1 == 0.0 and wrong.to_dict() == {"tp": 0, "fp": 1, "fn": 1, "tn": 0}
    assert (c + wrong).to_dict() == {"tp": 2, "fp": 2, "fn": 2, "tn": 3}
    with pytest.raises(SentinelError, match="shape"):
        Counts.of(np.zeros(3, bool), np.zeros(4, np.uint8))


def test_average_precision() -> None:
    def ap(scores: list[float], truth: list[int]) -> float:
        acc = ScoreAccumulator("p", PROBABILITY_EDGES)
        acc.add(np.array(scores, np.float32), np.array(truth, np.uint8))
        return acc.average_precision()

    assert ap([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == pytest.approx(1.0)  # perfect ranking
    assert ap([1.0, 1.0, 0.0, 0.0, 0.0], [1, 1, 0, 0, 255]) == pytest.approx(1.0)
    # scikit-learn's average_precision_score([1, 0, 1, 0], [.9, .8, .7, .1]) = 0.8333
    assert ap([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    assert ap([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == pytest.approx((1 / 3 + 2 / 4) / 2)  # worst ranking
    # an abstention (NaN) on a changed pixel is a positive never found
    assert ap([0.9, np.nan, 0.1], [1, 1, 0]) == pytest.approx(0.5)
    assert np.isnan(ap([0.5, 0.4], [0, 0]))
    assert average_precision_from_histograms(np.array([0, 3]), np.array([5, 0])) == 1.0


def test_histogram_counts_match_exact_counts() -> None:
    rng = np.random.default_rng(1)
    scores = rng.random(5000).astype(np.float32)
    truth = (rng.random(5000) < scores).astype(np.uint8)
    truth[:100] = 255
    acc = ScoreAccumulator("p", PROBABILITY_EDGES, fixed_threshold=0.5)
    acc.add(scores, truth)
    for threshold in (0.0, 0.123, 0.5, 0.77, 1.0):
        assert acc.counts_at(threshold) == Counts.of(scores >= np.float32(threshold), truth), threshold
    assert acc.exact == Counts.of(scores >= 0.5, truth)


def test_otsu_on_a_bimodal_histogram() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.2, 0.03, 20_000), rng.normal(0.7, 0.05, 5_000)])
    t = otsu_threshold(values)
    assert 0.35 < t < 0.55
    assert ((values >= t) == (np.arange(values.size) >= 20_000)).mean() > 0.999
    # two spikes: the threshold falls in the gap between them
    spikes = np.array([1.0] * 100 + [5.0] * 50)
    assert 1.0 < otsu_threshold(spikes) <= 5.0
    assert otsu_threshold(np.array([3.0, 3.0, np.nan])) == 3.0
    with pytest.raises(SentinelError):
        otsu_threshold(np.array([np.nan]))


def test_threshold_by_f1() -> None:
    rng = np.random.default_rng(2)
    truth = (rng.random(4000) < 0.3).astype(np.uint8)
    separable = np.where(truth == 1, rng.uniform(0.6, 1.0, 4000), rng.uniform(0.0, 0.3, 4000)).astype(np.float32)
    t, f1 = threshold_by_f1(separable, truth)
    assert f1 == 1.0 and 0.3 < t <= 0.6
    assert t == pytest.approx(0.45, abs=0.02)  # the middle of the plateau, not its edge
    # noisy scores: the chosen threshold beats every threshold on a coarser grid
    noisy = np.clip(truth * 0.3 + rng.normal(0.35, 0.15, 4000), 0, 1).astype(np.float32)
    t, f1 = threshold_by_f1(noisy, truth)
    assert f1 == pytest.approx(Counts.of(noisy >= np.float32(t), truth).f1)
    assert all(Counts.of(noisy >= g, truth).f1 <= f1 + 1e-12 for g in np.linspace(0, 1, 101))
    with pytest.raises(SentinelError, match="no changed pixels"):
        threshold_by_f1(noisy, np.zeros(4000, np.uint8))


def test_baseline_scores() -> None:
    loss = np.zeros((32, 32), bool)
    loss[:8] = True
    before, after = land_pair(32, 32, loss)
    nd = ndvi_difference(before, after, DEFAULT_BANDS)
    assert nd[loss].min() > 0.2 and np.abs(nd[~loss]).max() < 0.1
    bundle = make_bundle(OracleNet())
    cva = change_vector_magnitude(before, after, DEFAULT_BANDS, bundle)
    assert cva[loss].min() > 1.0 and cva[~loss].max() < 0.5
    # batches (N, bands, H, W) work the same
    assert np.allclose(ndvi_difference(before[None], after[None], DEFAULT_BANDS)[0], nd)
    with pytest.raises(SentinelError, match="B08"):
        ndvi_difference(before[:3], after[:3], DEFAULT_BANDS[:3])


# --------------------------------------------------------------------------------------------
# Scenes and chips
# --------------------------------------------------------------------------------------------


def labelled_scene(directory: Path, size: int = 256, seed: int = 0, name: str = "scene") -> tuple[Path, Path, Path]:
    """Forest with rectangular clearings, an unknown block in the mask and some noise."""
    rng = np.random.default_rng(seed)
    loss = np.zeros((size, size), bool)
    for _ in range(12):
        r, c = rng.integers(0, size - 40, 2)
        h, w = rng.integers(8, 40, 2)
        loss[r : r + h, c : c + w] = True
    before, after = land_pair(size, size, loss, seed=seed)
    mask = loss.astype(np.uint8)
    mask[: size // 8, : size // 8] = 255
    paths = write_pair(directory, before, after, name=name)
    mask_path = directory / f"{name}_mask.tif"
    with mask_writer(mask_path, utm_grid(size)) as writer:
        writer.write(mask)
    return (*paths, mask_path)


def test_perfect_model_on_a_scene_and_report_files(tmp_path: Path) -> None:
    before, after, mask = labelled_scene(tmp_path)
    report = evaluate_scene(make_bundle(OracleNet()), before, after, mask, window=128, overlap=32)
    overall = report.overall
    assert set(overall) == {"model", "ndvi_otsu", "ndvi_tuned", "cva_otsu"}
    model = overall["model"]
    assert model.counts.f1 == 1.0 and model.counts.iou == 1.0 and model.average_precision == pytest.approx(1.0)
    assert model.counts.fp == model.counts.fn == 0 and model.counts.tp > 1000
    size = 256
    assert model.counts.tp + model.counts.tn == size * size - (size // 8) ** 2  # unknown pixels excluded
    # the clearings are spectrally obvious here: the baselines find them too
    assert overall["ndvi_otsu"].counts.f1 > 0.95 and overall["cva_otsu"].counts.f1 > 0.95
    assert "optimistic" in overall["ndvi_tuned"].note
    assert report.scenes[0].name == "scene"

    paths = report.write(tmp_path / "eval")
    data = json.loads(paths["json"].read_text())
    assert data["overall"]["model"]["f1"] == 1.0 and data["overall"]["model"]["tp"] == model.counts.tp
    assert data["scenes"][0]["methods"]["ndvi_otsu"]["threshold"] > 0
    markdown = paths["markdown"].read_text()
    assert "| scene | method | precision | recall | F1 | IoU | AP |" in markdown
    assert "| **overall** | Siamese U-Net | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |" in markdown
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SentinelError, match="overwrite"):
        report.write(tmp_path / "eval")


def test_untrained_model_is_scored_on_the_same_pixels(tmp_path: Path) -> None:
    before, after, mask = labelled_scene(tmp_path, size=128)
    bundle = make_bundle()
    report = evaluate_scene(bundle, before, after, mask, window=128, ndvi_threshold=0.2)
    methods = report.scenes[0].methods
    totals = {m: sum(r.counts.to_dict().values()) for m, r in methods.items()}
    assert len(set(totals.values())) == 1  # every method is scored on the same pixels
    assert methods["model"].counts.f1 < methods["ndvi_otsu"].counts.f1
    assert methods["ndvi_tuned"].threshold == 0.2 and methods["ndvi_tuned"].note == "given threshold"


def test_evaluate_chips_per_scene_and_overall(tmp_path: Path) -> None:
    config = ChipConfig(size=64, split_block=64, split_ratios=(0.5, 0.25, 0.25))
    for i in range(2):
        scene = labelled_scene(tmp_path / f"raw{i}", seed=i, name=f"s{i}")
        chip_scene(*scene, tmp_path / "chips" / f"s{i}", config)
    report = evaluate_chips(make_bundle(OracleNet()), tmp_path / "chips", split="test", batch_size=4)
    assert [s.name for s in report.scenes] == ["s0", "s1"]
    overall = report.overall
    assert overall["model"].counts.f1 == 1.0 and overall["model"].average_precision == pytest.approx(1.0)
    for method in overall:  # overall = micro-average: summed confusion counts
        summed = report.scenes[0].methods[method].counts + report.scenes[1].methods[method].counts
        assert overall[method].counts == summed
    assert "'train' split" in overall["ndvi_tuned"].note
    assert overall["ndvi_tuned"].threshold is not None  # one threshold, tuned on train, for every scene
    assert report.settings["chips"] == sum(s.pixels["total"] for s in report.scenes) // 64**2
    assert "| s1 |" in report.to_markdown()
    # a single chips directory is one scene
    single = evaluate_chips(make_bundle(OracleNet()), tmp_path / "chips" / "s0")
    assert [s.name for s in single.scenes] == ["s0"]


def test_evaluate_chips_bad_input(tmp_path: Path) -> None:
    bundle = make_bundle(OracleNet())
    (tmp_path / "empty").mkdir()
    with pytest.raises(SentinelError, match="no chips found"):
        evaluate_chips(bundle, tmp_path / "empty")
    before, after, mask = labelled_scene(tmp_path / "raw", size=128)
    chip_scene(before, after, None, tmp_path / "unlabelled", ChipConfig(size=64, split_block=64))
    with pytest.raises(SentinelError, match="no mask"):
        evaluate_chips(bundle, tmp_path / "unlabelled")
    chip_scene(before, after, mask, tmp_path / "labelled", ChipConfig(size=64, split_block=64))
    with pytest.raises(SentinelError, match="unknown split"):
        evaluate_chips(bundle, tmp_path / "labelled", split="nonsense")
    with pytest.raises(SentinelError, match="no such directory"):
        evaluate_chips(bundle, tmp_path / "missing")
