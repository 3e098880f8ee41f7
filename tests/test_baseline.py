from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planet_sentinel.baseline import (
    REFLECTANCE_EDGES,
    BaselineConfig,
    compute_baseline,
    load_baseline,
    ndvi,
    write_baseline,
)
from planet_sentinel.chips import ChipConfig, chip_scene
from planet_sentinel.errors import SentinelError
from tests.conftest import FakeScene, write_fake_scene


@pytest.fixture
def chips(fake_scene: FakeScene, tmp_path: Path) -> Path:
    out = tmp_path / "chips" / "fake"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128))
    return out


def _valid_pixels(fake_scene: FakeScene, chips: Path, split: str) -> np.ndarray:
    manifest = json.loads((chips / "manifest.json").read_text())
    values = []
    for chip in manifest["chips"]:
        if split != "all" and chip["split"] != split:
            continue
        r, c = chip["row"], chip["col"]
        win = (slice(r, r + 128), slice(c, c + 128))
        valid = fake_scene.arrays["mask"][win] != 255
        for key in ("before", "after"):
            values.append(fake_scene.arrays[key][(slice(None), *win)][:, valid])
    return np.concatenate(values, axis=1)


def test_statistics_match_numpy(fake_scene: FakeScene, chips: Path) -> None:
    base = compute_baseline(chips.parent, BaselineConfig(split="all", pixel_sample=500))
    pixels = _valid_pixels(fake_scene, chips, "all")
    assert base.bands == ["B02", "B03", "B04", "B08", "B11", "B12"]
    for b, name in enumerate(base.bands):
        stats = base.per_band[name]
        assert stats.count == pixels.shape[1]
        assert stats.mean == pytest.approx(pixels[b].mean(), rel=1e-9)
        assert stats.std == pytest.approx(pixels[b].std(), rel=1e-6)
        assert stats.quantiles["0.5"] == pytest.approx(np.quantile(pixels[b], 0.5), abs=1)
        assert stats.histogram == np.histogram(pixels[b], bins=REFLECTANCE_EDGES)[0].tolist()
        assert len(base.pixel_sample[name]) == 500
        assert set(base.pixel_sample[name]) <= set(np.unique(pixels[b]).tolist())
    expected_ndvi = ndvi(pixels[2], pixels[3])
    assert base.ndvi.mean == pytest.approx(expected_ndvi.mean(), abs=1e-5)
    assert sum(base.ndvi.histogram) == pixels.shape[1]


def test_pixel_sample_is_uniform(fake_scene: FakeScene, chips: Path) -> None:
    base = compute_baseline(chips.parent, BaselineConfig(split="all", pixel_sample=5000))
    pixels = _valid_pixels(fake_scene, chips, "all")
    sample = np.array(base.pixel_sample["B04"])
    from scipy.stats import ks_2samp

    assert ks_2samp(sample, pixels[2]).pvalue > 0.01


def test_split_selection_and_shares(fake_scene: FakeScene, chips: Path) -> None:
    train = compute_baseline(chips.parent, BaselineConfig(split="train"))
    everything = compute_baseline(chips.parent, BaselineConfig(split="all"))
    manifest = json.loads((chips / "manifest.json").read_text())
    assert train.n_chips == sum(c["split"] == "train" for c in manifest["chips"])
    assert everything.n_chips == len(manifest["chips"])
    assert len(everything.change_share.per_chip) == everything.n_chips
    assert everything.change_share.mean == pytest.approx(
        np.mean([c["change_share"] for c in manifest["chips"]]), abs=1e-4
    )
    assert max(everything.unknown_share.per_chip) > 0


def test_write_load_roundtrip_and_refusals(chips: Path, tmp_path: Path) -> None:
    out = tmp_path / "baseline.json"
    write_baseline(chips.parent, out)
    loaded = load_baseline(out)
    assert loaded.schema_version == 1 and loaded.n_chips > 0
    assert len(loaded.source.fingerprint) == 16
    with pytest.raises(SentinelError, match="already exists"):
        write_baseline(chips.parent, out)
    data = json.loads(out.read_text())
    data["schema_version"] = 0
    out.write_text(json.dumps(data))
    with pytest.raises(SentinelError, match="recompute it"):
        load_baseline(out)
    with pytest.raises(SentinelError, match="no chips in split"):
        compute_baseline(chips.parent, BaselineConfig(split="buffer"))


def test_rejects_mixed_band_sets(chips: Path, tmp_path: Path) -> None:
    four = write_fake_scene(tmp_path / "four", size=256, bands=("B02", "B03", "B04", "B08"))
    chip_scene(four.before, four.after, four.mask, chips.parent / "four", ChipConfig(size=128, split_block=128))
    with pytest.raises(SentinelError, match="one baseline needs one band set"):
        compute_baseline(chips.parent)


def test_fingerprint_changes_with_content(fake_scene: FakeScene, tmp_path: Path) -> None:
    a = tmp_path / "a" / "x"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, a, ChipConfig(size=128, split_block=128))
    other = write_fake_scene(tmp_path / "raw2", size=512, seed=1)
    b = tmp_path / "b" / "x"
    chip_scene(other.before, other.after, other.mask, b, ChipConfig(size=128, split_block=128))
    fa = compute_baseline(a.parent).source.fingerprint
    assert fa == compute_baseline(a.parent).source.fingerprint
    assert fa != compute_baseline(b.parent).source.fingerprint


def test_baseline_is_a_typed_artefact_that_reads_todays_files(chips: Path, tmp_path: Path) -> None:
    """baseline.json files written before the model existed (schema_version 1, same keys) load
    unchanged; what is not a baseline is refused with what to do."""
    out = tmp_path / "baseline.json"
    written = write_baseline(chips.parent, out, BaselineConfig(split="all", pixel_sample=200))
    raw = json.loads(out.read_text())
    assert raw["schema"] == "planet-sentinel/baseline" and raw["schema_version"] == 1
    assert load_baseline(out) == written and load_baseline(out).to_dict() == raw
    assert written.labelled and written.change_share is not None
    drift_report = {**raw, "schema": "planet-sentinel/drift-report"}
    out.write_text(json.dumps(drift_report))
    with pytest.raises(SentinelError, match="not a valid baseline.*recompute it"):
        load_baseline(out)
    out.write_text(json.dumps({**raw, "per_chip_means": {}}))  # a misspelt key is not silently ignored
    with pytest.raises(SentinelError, match="per_chip_means"):
        load_baseline(out)
    with pytest.raises(SentinelError, match="no such baseline"):
        load_baseline(tmp_path / "absent.json")


def test_empty_statistics_are_null_in_json_and_none_in_the_model(chips: Path, tmp_path: Path) -> None:
    """A band without a valid pixel has no mean: JSON null on disk and None in memory, never NaN
    (which strict JSON readers refuse)."""
    from planet_sentinel.baseline import Accumulator

    acc = Accumulator(["B04", "B08"], 10, np.random.default_rng(0))
    stats = acc.summary()
    assert stats.per_band["B04"].mean is None and stats.per_band["B04"].count == 0
    assert stats.ndvi.mean is None
    assert "NaN" not in stats.model_dump_json()
