"""Drift statistics, the decision rule, the monitor's signals, its report and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.baseline import BaselineConfig, load_baseline, write_baseline
from planet_sentinel.chips import ChipConfig, chip_scene
from planet_sentinel.drift.monitor import EXIT_DRIFT, EXIT_INCONCLUSIVE, EXIT_NO_DRIFT, MonitorConfig, run_monitor
from planet_sentinel.drift.statistics import (
    DRIFT,
    INSUFFICIENT,
    PASS,
    UNAVAILABLE,
    WARN,
    Signal,
    Thresholds,
    adjust_pvalues,
    decide,
    finite_values,
    guard,
    ks_test,
    mmd_permutation_test,
    psi,
    wasserstein_normalised,
)
from planet_sentinel.drift.types import DriftReport
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import mask_writer, scene_writer
from tests.conftest import utm_grid

LEVELS = np.array([500.0, 700.0, 600.0, 2800.0, 1700.0, 900.0])
CHIP = 32


# --------------------------------------------------------------------------------------------
# Tests and effect sizes
# --------------------------------------------------------------------------------------------


def test_psi_is_zero_for_identical_bins_and_matches_the_formula() -> None:
    assert psi([10, 20, 70], [1, 2, 7]) == pytest.approx(0.0)
    p, q = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    assert psi([50, 50], [80, 20]) == pytest.approx(float(((q - p) * np.log(q / p)).sum()))


def test_psi_floors_empty_bins_instead_of_returning_infinity() -> None:
    value = psi([100, 0], [50, 50])
    assert np.isfinite(value) and value > 1
    assert np.isnan(psi([0, 0], [1, 1]))


def test_wasserstein_is_normalised_by_the_baseline_spread() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 2.0, 5000)
    assert wasserstein_normalised(ref, ref + 1.0, scale=2.0) == pytest.approx(0.5, abs=1e-9)
    assert np.isnan(wasserstein_normalised(ref, ref, scale=0.0))


def test_ks_separates_a_shift_from_a_resample() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 300)
    assert ks_test(ref, rng.normal(0, 1, 300))[1] > 0.05
    stat, p = ks_test(ref, rng.normal(0.5, 1, 300))
    assert p < 1e-4 and stat > 0.15
    assert np.isnan(ks_test([], ref)[1])


def test_finite_values_drop_none_nan_and_infinity_from_lists_and_arrays() -> None:
    for values in ([1.0, None, float("nan"), 2.5, float("inf")], np.array([1.0, np.nan, 2.5, -np.inf])):
        out = finite_values(values)
        assert out.dtype == np.float64 and out.tolist() == [1.0, 2.5]
    assert finite_values(np.array([1, 2], np.float32)).dtype == np.float64


def test_holm_and_benjamini_hochberg_adjustments() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_pvalues([0.9, 0.8], "holm") == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError):
        adjust_pvalues(p, "sidak")


def test_mmd_permutation_test() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(0, 1, (80, 8))
    same = mmd_permutation_test(ref, rng.normal(0, 1, (60, 8)), n_permutations=300, seed=0)
    shifted = mmd_permutation_test(ref, rng.normal(0.6, 1, (60, 8)), n_permutations=300, seed=0)
    assert same["p_value"] > 0.05
    assert shifted["p_value"] <= 1 / 301 + 1e-12
    assert shifted["mmd2"] > Thresholds().mmd > same["mmd2"]


# --------------------------------------------------------------------------------------------
# The decision rule
# --------------------------------------------------------------------------------------------


def _signal(name: str, effect: float, p: float, n: int = 100) -> Signal:
    return Signal(name, "bands", "ks", n, n, 0.1, p, {"wasserstein_norm": effect}, {"wasserstein_norm": 0.1})


def test_drift_needs_effect_size_and_significance() -> None:
    signals = [
        _signal("large+significant", 0.3, 1e-6),
        _signal("large only", 0.3, 0.2),
        _signal("significant only", 0.02, 1e-9),
        _signal("neither", 0.01, 0.7),
    ]
    decision = decide(signals, Thresholds())
    assert [s.status for s in signals] == [DRIFT, WARN, PASS, PASS]
    assert "trivial" in signals[2].reason
    assert decision.drift and decision.drifted == ["large+significant"] and decision.warnings == ["large only"]


def test_psi_between_warn_and_drift_levels_is_a_warning() -> None:
    s = Signal("band", "bands", "ks", 100, 100, 0.2, 1e-5, {"psi": 0.15}, {"psi": 0.2}, {"psi": 0.1})
    decision = decide([s], Thresholds())
    assert s.status == WARN and not decision.drift


def test_multiple_testing_correction_is_applied() -> None:
    alone = [_signal("b0", 0.3, 0.01)]
    assert decide(alone, Thresholds()).drift
    many = [_signal(f"b{i}", 0.3, 0.01) for i in range(10)]
    decision = decide(many, Thresholds())
    assert not decision.drift  # Holm: 10 x 0.01 = 0.1 > 0.05
    assert all(s.p_adjusted == pytest.approx(0.1) for s in many)
    bh = [_signal(f"b{i}", 0.3, 0.01) for i in range(10)]
    assert decide(bh, Thresholds(correction="bh")).drift  # BH keeps all ten at 0.01


def test_small_samples_are_reported_not_judged() -> None:
    s = guard(_signal("tiny", 5.0, 1e-9, n=4), Thresholds().min_chips)
    decision = decide([s], Thresholds())
    assert s.status == INSUFFICIENT and "too few chips" in s.reason
    assert decision.status == "inconclusive" and not decision.drift and decision.insufficient == ["tiny"]


# --------------------------------------------------------------------------------------------
# The monitor on small scenes with known drift
# --------------------------------------------------------------------------------------------


def write_pair(
    directory: Path,
    name: str,
    seed: int,
    size: int = 256,
    gain: float = 1.0,
    b08_after: float = 1.0,
    nodata_cols: int = 0,
    bands: tuple[str, ...] = DEFAULT_BANDS,
    with_mask: bool = True,
) -> None:
    """A scene pair of 32 px patches of random brightness (so chip means vary, like land cover);
    ``nodata_cols``: the first columns of every 32 px block have no data on the after date."""
    rng = np.random.default_rng(seed)
    field = np.kron(0.6 + 0.8 * rng.random((size // 32, size // 32)), np.ones((32, 32)))
    levels = (
        LEVELS[[DEFAULT_BANDS.index(b) for b in bands]]
        if set(bands) <= set(DEFAULT_BANDS)
        else np.full(len(bands), 800.0)
    )
    base = levels[:, None, None] * field[None]
    before = base + rng.normal(0, 40, base.shape)
    after = (base + rng.normal(0, 40, base.shape)) * gain
    if "B08" in bands:
        after[bands.index("B08")] *= b08_after
    arrays = [np.clip(a, 1, 65535).astype(np.uint16) for a in (before, after)]
    stripes = (np.arange(size) % 32) < nodata_cols
    arrays[1][:, :, stripes] = 0
    grid = utm_grid(size)
    directory.mkdir(parents=True, exist_ok=True)
    for role, data in zip(("before", "after"), arrays, strict=True):
        with scene_writer(directory / f"{name}_{role}.tif", grid, bands) as writer:
            writer.write(data)
    if with_mask:
        mask = np.zeros((size, size), np.uint8)
        mask[:, stripes] = 255
        with mask_writer(directory / f"{name}_mask.tif", grid) as writer:
            writer.write(mask)


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    for seed in range(3):
        write_pair(root / "raw", f"base{seed}", seed)
        chip_scene(
            root / "raw" / f"base{seed}_before.tif",
            root / "raw" / f"base{seed}_after.tif",
            root / "raw" / f"base{seed}_mask.tif",
            root / "chips" / f"base{seed}",
            ChipConfig(size=CHIP, split_block=CHIP),
        )
    out = root / "baseline.json"
    write_baseline(root / "chips", out, BaselineConfig(split="all", pixel_sample=5000))
    return out


def _new(tmp_path: Path, n: int = 2, **kwargs: object) -> Path:
    for i in range(n):
        write_pair(tmp_path / "new", f"new{i}", 100 + i, **kwargs)  # type: ignore[arg-type]
    return tmp_path / "new"


def _status(result: object, name: str) -> str:
    return next(s.status for s in result.signals if s.name == name)  # type: ignore[attr-defined]


def test_same_distribution_is_not_drift(baseline_file: Path, tmp_path: Path) -> None:
    result = run_monitor(baseline_file, _new(tmp_path), tmp_path / "report")
    assert result.decision.status == "no_drift", result.decision.summary
    assert result.exit_code == EXIT_NO_DRIFT
    assert result.new.n_chips == 128 and result.new.pixel_rule == "mask"
    assert _status(result, "unknown_share") == PASS


def test_gain_change_is_drift_and_the_report_shows_it(baseline_file: Path, tmp_path: Path) -> None:
    result = run_monitor(baseline_file, _new(tmp_path, gain=1.15), tmp_path / "report")
    assert result.exit_code == EXIT_DRIFT
    assert {"band B02", "band B08"} <= set(result.decision.drifted)
    assert _status(result, "ndvi") == PASS  # a gain leaves band ratios alone
    b08 = next(s for s in result.signals if s.name == "band B08")
    assert b08.effects["change_after"] == pytest.approx(0.15, abs=0.03)
    assert abs(b08.effects["change_before"]) < 0.03
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert report["decision"]["drift"] and report["decision"]["exit_code"] == EXIT_DRIFT
    assert report["sample_sizes"] == {"baseline_chips": 192, "new_chips": 128, "chip_size": CHIP}
    assert report["baseline"]["fingerprint"] and report["thresholds"]["correction"] == "holm"
    signal = next(s for s in report["signals"] if s["name"] == "band B08")
    assert signal["status"] == "drift" and signal["p_adjusted"] < 0.05 and signal["limits"]["wasserstein_norm"] == 0.1
    md = (tmp_path / "report" / "drift.md").read_text()
    assert "DRIFT DETECTED" in md and "| band B08 | **DRIFT** |" in md
    for png in ("bands.png", "features.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"
    typed = DriftReport.load(tmp_path / "report" / "drift.json")  # the artefact model reads what was written
    assert typed.decision.exit_code == EXIT_DRIFT and typed.baseline.fingerprint == report["baseline"]["fingerprint"]
    assert typed.files["json"] == "drift.json" and typed.to_dict() == report


def test_ndvi_drift(baseline_file: Path, tmp_path: Path) -> None:
    result = run_monitor(baseline_file, _new(tmp_path, b08_after=0.6))
    assert _status(result, "ndvi") == DRIFT
    ndvi = next(s for s in result.signals if s.name == "ndvi")
    assert ndvi.effects["difference_after"] < -0.05


def test_nodata_share_drift(baseline_file: Path, tmp_path: Path) -> None:
    result = run_monitor(baseline_file, _new(tmp_path, nodata_cols=10))
    assert result.new.n_chips == 128
    assert _status(result, "nodata_share") == DRIFT
    assert _status(result, "unknown_share") == DRIFT


def test_unlabelled_new_data_does_not_compare_cloud_shares(baseline_file: Path, tmp_path: Path) -> None:
    result = run_monitor(baseline_file, _new(tmp_path, with_mask=False))
    assert result.new.pixel_rule == "screen"
    signal = next(s for s in result.signals if s.name == "unknown_share")
    assert signal.status == UNAVAILABLE and "not comparable" in signal.reason


def test_too_few_chips_is_inconclusive(baseline_file: Path, tmp_path: Path) -> None:
    write_pair(tmp_path / "tiny", "tiny", 7, size=64, gain=2.0)  # 4 chips
    result = run_monitor(baseline_file, tmp_path / "tiny", tmp_path / "report")
    assert result.decision.status == "inconclusive" and result.exit_code == EXIT_INCONCLUSIVE
    assert all(s.status in (INSUFFICIENT, UNAVAILABLE) for s in result.signals)
    assert "too few chips" in (tmp_path / "report" / "drift.md").read_text()


def test_chips_directories_are_accepted_and_split_selects(baseline_file: Path, tmp_path: Path) -> None:
    new = _new(tmp_path)
    chip_scene(
        new / "new0_before.tif",
        new / "new0_after.tif",
        new / "new0_mask.tif",
        tmp_path / "chips" / "a",
        ChipConfig(size=CHIP, split_block=64, split_ratios=(0.5, 0.5, 0.0)),
    )
    whole = run_monitor(baseline_file, tmp_path / "chips")
    half = run_monitor(baseline_file, tmp_path / "chips", config=MonitorConfig(split="train"))
    assert whole.new.source["kind"] == "chips" and whole.new.n_chips == 64
    assert 0 < half.new.n_chips < 64


# --------------------------------------------------------------------------------------------
# Model-level signals
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(baseline_file: Path) -> Path:
    import torch

    from planet_sentinel.model import ModelConfig, SiameseUNet
    from planet_sentinel.model_bundle import ModelBundle

    base = load_baseline(baseline_file)
    torch.manual_seed(0)
    model = SiameseUNet(ModelConfig(in_channels=6, base=4, depth=3)).eval()
    mean = np.array([base.per_band[b].mean for b in base.bands], np.float32)
    std = np.array([base.per_band[b].std for b in base.bands], np.float32)
    bundle = ModelBundle(model, tuple(base.bands), mean, std, CHIP, 0.5, fingerprint="abc123")
    return bundle.save(baseline_file.parent / "model.pt")


def test_model_signals(baseline_file: Path, model_file: Path, tmp_path: Path) -> None:
    config = MonitorConfig(max_model_chips=64, thresholds=Thresholds(n_permutations=200))
    same = run_monitor(baseline_file, _new(tmp_path / "a"), tmp_path / "ra", model=model_file, config=config)
    shifted = run_monitor(
        baseline_file, _new(tmp_path / "b", gain=1.6), tmp_path / "rb", model=model_file, config=config
    )
    for result in (same, shifted):
        assert {s.name for s in result.signals if s.group == "model"} == {"predicted_change", "encoder_mmd"}
        assert all(s.status != UNAVAILABLE for s in result.signals if s.group == "model")
    assert _status(same, "encoder_mmd") == PASS
    assert _status(shifted, "encoder_mmd") == DRIFT
    report = json.loads((tmp_path / "rb" / "drift.json").read_text())
    assert report["model"]["fingerprint"] == "abc123" and report["sample_sizes"]["model_new_chips"] == 64


def test_model_signals_unavailable_without_the_baseline_chips(
    baseline_file: Path, model_file: Path, tmp_path: Path
) -> None:
    data = json.loads(baseline_file.read_text())
    data["source"]["chips_dirs"] = [str(tmp_path / "gone")]
    moved = tmp_path / "baseline.json"
    moved.write_text(json.dumps(data))
    result = run_monitor(moved, _new(tmp_path, n=1), model=model_file, config=MonitorConfig(max_model_chips=16))
    signal = next(s for s in result.signals if s.name == "encoder_mmd")
    assert signal.status == UNAVAILABLE and "not available" in signal.reason


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_baseline_of_another_schema_version(baseline_file: Path, tmp_path: Path) -> None:
    data = json.loads(baseline_file.read_text())
    data["schema_version"] = 99
    other = tmp_path / "old.json"
    other.write_text(json.dumps(data))
    with pytest.raises(SentinelError, match="v99"):
        run_monitor(other, _new(tmp_path))


def test_baseline_of_another_band_set(baseline_file: Path, model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SentinelError, match="another band set"):
        run_monitor(baseline_file, _new(tmp_path), config=MonitorConfig(bands=["B05"]))
    data = json.loads(baseline_file.read_text())
    data["bands"] = ["B02", "B03", "B04"]
    narrow = tmp_path / "narrow.json"
    narrow.write_text(json.dumps(data))
    with pytest.raises(SentinelError, match="another band set"):
        run_monitor(narrow, _new(tmp_path), model=model_file)


def test_new_data_with_other_bands(baseline_file: Path, tmp_path: Path) -> None:
    write_pair(tmp_path / "rgb", "rgb", 1, bands=("B02", "B03", "B04"))
    with pytest.raises(SentinelError, match=r"missing .*--bands B02,B03,B04"):
        run_monitor(baseline_file, tmp_path / "rgb")
    result = run_monitor(baseline_file, tmp_path / "rgb", config=MonitorConfig(bands=["B02", "B03", "B04"]))
    assert [s.status for s in result.signals if s.name == "ndvi"] == [UNAVAILABLE]


def test_empty_or_missing_new_data(baseline_file: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SentinelError, match="no new data"):
        run_monitor(baseline_file, tmp_path / "empty")
    with pytest.raises(SentinelError, match="no such directory"):
        run_monitor(baseline_file, tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "x_before.tif").write_bytes(b"")
    with pytest.raises(SentinelError, match="before/after pairs"):
        run_monitor(baseline_file, tmp_path / "half")


def test_new_chips_of_another_size(baseline_file: Path, tmp_path: Path) -> None:
    new = _new(tmp_path, n=1)
    chip_scene(
        new / "new0_before.tif",
        new / "new0_after.tif",
        None,
        tmp_path / "chips" / "big",
        ChipConfig(size=64, split_block=64),
    )
    with pytest.raises(SentinelError, match="one chip size"):
        run_monitor(baseline_file, tmp_path / "chips")


# --------------------------------------------------------------------------------------------
# The calibration benchmark, at a tiny size
# --------------------------------------------------------------------------------------------


def test_drift_bench_runs_end_to_end_at_a_tiny_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.bench import drift as bench

    for name, value in {
        "SAME_POOL": 6,
        "DRIFT_POOL": 2,
        "BASELINE_SCENES": 3,
        "NEW_SCENES": 2,
        "BASELINES": 2,
        "FA_PAIRS": 2,
        "POWER_TRIALS": 1,
        "STREAM_SIZE": 256,
    }.items():
        monkeypatch.setattr(bench, name, value)
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 1)
    monkeypatch.setenv("SENTINEL_QUIET", "1")
    result = bench.run(size=256, workdir=str(tmp_path), data=str(tmp_path / "no-data"))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bench"] == "drift" and line == json.loads(json.dumps(result))
    assert line["calibration"]["pairs"] == 2 and set(line["power"]) == {"gain", "haze", "season", "region"}
    assert line["speed"]["chips"] == 16 and line["speed"]["ratio_to_read"] > 0
    assert "skipped" in line["real_data"]
