"""The simulated scene pair: contract, realism of spectra and changes, knobs, determinism."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from pydantic import ValidationError
from scipy import ndimage

from planet_sentinel.bands import DEFAULT_BANDS, MASK_UNKNOWN
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import Grid, check_mask, check_scene
from planet_sentinel.sources.synthetic import (
    AFTER_DATE,
    BEFORE_DATE,
    LandClass,
    SimulatedScene,
    SimulationConfig,
    land_cover,
    scene_grid,
    simulate_scene,
)

B02, B03, B04, B08, B11, B12 = range(6)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def default_scene(tmp_path_factory: pytest.TempPathFactory) -> SimulatedScene:
    """A 1024 px scene at the default knobs (difficulty 0.3), shared by the read-only tests."""
    return simulate_scene(SimulationConfig(size=1024), tmp_path_factory.mktemp("sim"))


def test_outputs_follow_the_scene_contract(default_scene: SimulatedScene) -> None:
    grid, names = check_scene(default_scene.before, DEFAULT_BANDS)
    grid_after, _ = check_scene(default_scene.after, DEFAULT_BANDS)
    check_mask(default_scene.mask, grid)
    assert grid.differences(grid_after) == []
    assert grid.differences(Grid.read(default_scene.mask)) == []
    assert names == DEFAULT_BANDS
    assert grid.crs.to_epsg() == 32720 and grid.crs.is_projected
    assert grid.resolution == (10.0, 10.0)
    assert (grid.width, grid.height) == (1024, 1024)
    assert grid.transform.c % 10 == 0 and grid.transform.f % 10 == 0
    for path in (default_scene.before, default_scene.after):
        with rasterio.open(path) as ds:
            assert ds.dtypes == ("uint16",) * 6
            assert ds.nodata == 0
            assert ds.descriptions == DEFAULT_BANDS
            assert ds.tags()["GENERATOR"] == "planet_sentinel.synthetic"
            assert ds.tags()["SEED"] == "7"
    with rasterio.open(default_scene.before) as ds:
        assert ds.tags()["ACQUISITION_DATE"] == BEFORE_DATE == "2024-07-15"
    with rasterio.open(default_scene.after) as ds:
        assert ds.tags()["ACQUISITION_DATE"] == AFTER_DATE == "2025-07-20"
    with rasterio.open(default_scene.mask) as ds:
        assert ds.dtypes == ("uint8",) and ds.nodata == MASK_UNKNOWN
        mask = ds.read(1)
    assert set(np.unique(mask).tolist()) <= {0, 1, MASK_UNKNOWN}
    assert {0, 1} <= set(np.unique(mask).tolist())


def test_grid_is_centred_on_the_configured_point() -> None:
    from rasterio.warp import transform

    grid = scene_grid(SimulationConfig(size=512))
    left, bottom, right, top = grid.bounds
    lon, lat = transform(grid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    assert abs(lon[0] - -62.85) < 1e-3 and abs(lat[0] - -9.90) < 1e-3
    north = scene_grid(SimulationConfig(size=512, centre_lon=10.0, centre_lat=50.0))
    assert north.crs.to_epsg() == 32632


def test_summary_json_records_config_classes_and_shares(default_scene: SimulatedScene) -> None:
    summary = json.loads(default_scene.summary_json.read_text())
    assert summary["config"]["seed"] == 7 and summary["config"]["size"] == 1024
    assert summary["config"]["cloud_cover"] == pytest.approx(0.06)  # derived from difficulty
    assert summary["crs"] == "EPSG:32720"
    assert summary["bounds"] == pytest.approx(list(Grid.read(default_scene.before).bounds))
    for date in ("before", "after"):
        assert sum(summary["land_cover"][date].values()) == pytest.approx(1.0, abs=1e-4)
    assert {"forest", "pasture", "water", "road"} <= set(summary["land_cover"]["before"])
    with rasterio.open(default_scene.mask) as ds:
        mask = ds.read(1)
    assert summary["mask"]["loss_share"] == pytest.approx((mask == 1).mean(), abs=1e-6)
    assert summary["unknown_share"] == pytest.approx((mask == MASK_UNKNOWN).mean(), abs=1e-6)
    assert summary == {**summary, **default_scene.stats}


def _interior(classes: np.ndarray, code: int, valid: np.ndarray) -> np.ndarray:
    """Pixels of a class at least 2 px inside its patches (no mixing with neighbours)."""
    return ndimage.binary_erosion(classes == code, np.ones((5, 5), bool)) & valid


def test_class_spectra_are_in_level_2a_ranges(default_scene: SimulatedScene) -> None:
    lc = land_cover(SimulationConfig(size=1024))
    before = _read(default_scene.before).astype(np.float32)
    valid = _read(default_scene.mask)[0] != MASK_UNKNOWN

    def median(code: int, band: int) -> float:
        sel = _interior(lc.before, code, valid)
        assert sel.sum() > 50, f"too few pixels of class {code}"
        return float(np.median(before[band][sel]))

    forest = {b: median(LandClass.FOREST, b) for b in (B04, B08, B11)}
    assert 150 <= forest[B04] <= 400  # real Amazon forest (MultiEarth, bench realism): median 0.020
    assert 2500 <= forest[B08] <= 3500
    assert 1200 <= forest[B11] <= 1600
    bare = {b: median(LandClass.BARE, b) for b in (B04, B11)}
    assert 1300 <= bare[B04] <= 1800
    assert 2800 <= bare[B11] <= 3500
    assert median(LandClass.WATER, B08) <= 250
    pasture = {b: median(LandClass.PASTURE, b) for b in (B04, B11)}
    assert forest[B04] < pasture[B04] < bare[B04]
    assert forest[B11] < pasture[B11] < bare[B11]
    road = (lc.before == LandClass.ROAD) & valid  # 1-3 px wide: mixed with its verges
    assert np.median(before[B04][road]) > forest[B04] + 300


def test_canopy_has_texture_and_edges_are_soft(default_scene: SimulatedScene) -> None:
    lc = land_cover(SimulationConfig(size=1024))
    nir = _read(default_scene.before)[B08].astype(np.float32)
    valid = _read(default_scene.mask)[0] != MASK_UNKNOWN
    forest = nir[_interior(lc.before, LandClass.FOREST, valid)]
    assert 60 < forest.std() < 600  # textured canopy, not a flat colour and not noise
    # a forest/pasture boundary is mixed across a pixel or two, not a single step
    edge = (lc.before == LandClass.FOREST) & ndimage.binary_dilation(lc.before == LandClass.PASTURE)
    pasture_b04 = np.median(_read(default_scene.before)[B04][_interior(lc.before, LandClass.PASTURE, valid)])
    forest_b04 = np.median(_read(default_scene.before)[B04][_interior(lc.before, LandClass.FOREST, valid)])
    edge_b04 = np.median(_read(default_scene.before)[B04][edge & valid])
    assert forest_b04 + 20 < edge_b04 < pasture_b04


def test_loss_is_forest_turning_non_forest_with_a_plausible_share(default_scene: SimulatedScene) -> None:
    lc = land_cover(SimulationConfig(size=1024))
    mask = _read(default_scene.mask)[0]
    assert np.all(lc.before[mask == 1] == LandClass.FOREST)
    assert np.all(lc.after[mask == 1] != LandClass.FOREST)
    assert np.array_equal(mask == 1, lc.loss & (mask != MASK_UNKNOWN))
    share = (mask == 1).mean()
    assert 0.01 <= share <= 0.15
    # non-forest changes happen too, and are not labelled as loss
    changed = lc.before != lc.after
    assert (changed & ~lc.loss).sum() > 1000
    # cleared forest: red and SWIR up, NIR down
    before, after = _read(default_scene.before), _read(default_scene.after)
    clear = ndimage.binary_erosion(mask == 1, np.ones((5, 5), bool))
    assert clear.sum() > 200
    d = after[:, clear].astype(np.float32).mean(axis=1) - before[:, clear].mean(axis=1)
    assert d[B04] > 250 and d[B11] > 400 and d[B08] < -300


def test_selective_logging_gaps_are_small_and_partial() -> None:
    lc = land_cover(SimulationConfig(size=1024, seed=3))
    gaps = lc.loss & (lc.after == LandClass.LOGGED)
    labels, count = ndimage.label(gaps)
    assert count > 10
    sizes = np.bincount(labels.ravel())[1:]
    assert np.median(sizes) < 15 * 15


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    one = simulate_scene(SimulationConfig(size=256, seed=11), tmp_path / "a")
    two = simulate_scene(SimulationConfig(size=256, seed=11), tmp_path / "b")
    other = simulate_scene(SimulationConfig(size=256, seed=12), tmp_path / "c")
    for key in ("before", "after", "mask"):
        a, b = _read(getattr(one, key)), _read(getattr(two, key))
        assert a.tobytes() == b.tobytes(), key
        assert a.tobytes() != _read(getattr(other, key)).tobytes(), key
    assert one.stats == two.stats


#: sha256 (first 16 hex digits) of the before, after and mask pixels of two small scenes, measured
#: with the locked numpy 2.4.6 / scipy 1.17.1 / rasterio 1.4.4 before the simulator became a package.
PINNED_PIXELS = {
    "default": "6711d1f1240dd604",  # #17: forest spectrum and texture fitted to MultiEarth, less noise
    "clouds, swath edge and gain": "23e68805a814fdd1",
}


@pytest.mark.parametrize(
    ("case", "config"),
    [
        ("default", SimulationConfig(size=256, seed=11)),
        ("clouds, swath edge and gain", SimulationConfig(size=256, seed=5, cloud_cover=0.2, swath_edge=0.1, gain=1.05)),
    ],
)
def test_pixels_are_those_pinned(tmp_path: Path, case: str, config: SimulationConfig) -> None:
    """The simulator's output is part of its contract (benchmarks and demo F1 are measured on it):
    a refactoring must leave every pixel as it was. A deliberate change updates PINNED_PIXELS."""
    scene = simulate_scene(config, tmp_path)
    digest = hashlib.sha256()
    for path in (scene.before, scene.after, scene.mask):
        digest.update(_read(path).tobytes())
    assert digest.hexdigest()[:16] == PINNED_PIXELS[case], (
        f"{case}: simulated pixels changed (numpy {np.__version__}); if deliberate, update PINNED_PIXELS"
    )


def test_unknown_is_exactly_where_clouds_shadows_or_nodata_are(tmp_path: Path) -> None:
    cloudy = simulate_scene(SimulationConfig(size=512, cloud_cover=0.2, swath_edge=0.1, seed=5), tmp_path / "cloudy")
    mask = _read(cloudy.mask)[0]
    before, after = _read(cloudy.before), _read(cloudy.after)
    unknown = mask == MASK_UNKNOWN
    assert 0.1 < unknown.mean() < 0.8
    # every bright (cloud) pixel of either date is unknown
    bright = (before[B02] > 2500) | (after[B02] > 2500)
    assert bright.sum() > 1000
    assert unknown[bright].mean() > 0.99
    # every nodata pixel is unknown, and nodata lies only in the after image's swath edge
    nodata = np.all(after == 0, axis=0)
    assert 0.05 < nodata.mean() < 0.15
    assert unknown[nodata].all()
    assert not np.any(before == 0)
    # outside unknown, the dates look alike; inside, clouds or shadows change them a lot
    diff = np.abs(after[B02].astype(np.float32) - before[B02])
    inside = unknown & ~nodata
    assert np.median(diff[inside]) > 4 * np.median(diff[~unknown])
    # and with no clouds and no swath edge there is nothing unknown at all
    clear = simulate_scene(SimulationConfig(size=512, cloud_cover=0.0, swath_edge=0.0, seed=5), tmp_path / "clear")
    assert not np.any(_read(clear.mask)[0] == MASK_UNKNOWN)
    assert clear.stats["cloud_share"] == 0.0


def _estimate_shift(before: np.ndarray, after: np.ndarray, unchanged: np.ndarray) -> np.ndarray:
    """(rows, cols) shift moving ``before`` onto ``after``: iterated least squares on gradients."""
    keep = ndimage.binary_erosion(unchanged, iterations=3)
    keep[:8], keep[-8:], keep[:, :8], keep[:, -8:] = False, False, False, False
    d = np.zeros(2)
    for _ in range(4):
        moved = ndimage.shift(before, d, order=3, mode="nearest")
        gy, gx = np.gradient(moved)
        step, *_ = np.linalg.lstsq(np.stack([-gy[keep], -gx[keep]], 1), (after - moved)[keep], rcond=None)
        d += step
    return d


def test_after_image_is_misregistered_by_the_configured_fraction(tmp_path: Path) -> None:
    knobs = dict(size=512, cloud_cover=0.0, haze=0.0, noise=0.0, phenology=0.0, seed=2)
    lc = land_cover(SimulationConfig(**knobs))
    measured, expected = {}, {}
    for px in (0.0, 0.6):
        scene = simulate_scene(SimulationConfig(misregistration_px=px, **knobs), tmp_path / str(px))
        b = _read(scene.before)[B08].astype(np.float64)
        a = _read(scene.after)[B08].astype(np.float64)
        measured[px] = _estimate_shift(b, a, lc.before == lc.after)
        expected[px] = np.array(list(scene.stats["misregistration_px"].values()))
    assert np.hypot(*expected[0.6]) == pytest.approx(0.6, abs=1e-3)
    assert np.hypot(*measured[0.0]) < 0.02
    assert np.allclose(measured[0.6], expected[0.6], atol=0.05)


def test_difficulty_raises_clouds_haze_noise_and_misregistration(tmp_path: Path) -> None:
    easy = SimulationConfig(difficulty=0.1).resolved()
    hard = SimulationConfig(difficulty=0.9).resolved()
    for knob in ("cloud_cover", "haze", "misregistration_px", "noise", "phenology"):
        assert getattr(hard, knob) > getattr(easy, knob), knob
    assert SimulationConfig(difficulty=0.9, cloud_cover=0.01).resolved().cloud_cover == 0.01
    stats = {
        d: simulate_scene(SimulationConfig(size=256, difficulty=d, seed=4), tmp_path / str(d)).stats for d in (0.1, 0.9)
    }
    assert stats[0.9]["cloud_share"] > stats[0.1]["cloud_share"] + 0.05
    assert stats[0.9]["unknown_share"] > stats[0.1]["unknown_share"]
    shift = {d: np.hypot(*stats[d]["misregistration_px"].values()) for d in stats}
    assert shift[0.9] > shift[0.1] + 0.5


def test_drift_knobs_change_the_data(tmp_path: Path) -> None:
    base = simulate_scene(SimulationConfig(size=256, seed=9), tmp_path / "base")
    gained = simulate_scene(SimulationConfig(size=256, seed=9, gain=1.25), tmp_path / "gain")
    ratio = _read(gained.after).mean(axis=(1, 2)) / _read(base.after).mean(axis=(1, 2))
    assert np.allclose(ratio, 1.25, atol=0.02)
    assert np.array_equal(_read(gained.before), _read(base.before))
    wet = simulate_scene(SimulationConfig(size=256, seed=9, season_shift=1.0), tmp_path / "wet")
    lc = land_cover(SimulationConfig(size=256, seed=9))
    pasture = lc.after == LandClass.PASTURE
    assert _read(wet.after)[B08][pasture].mean() > _read(base.after)[B08][pasture].mean() + 100
    sparse = land_cover(SimulationConfig(size=1024, forest_fraction=0.4))
    assert sparse.stats["forest_fraction"] == pytest.approx(0.4, abs=0.08)
    dense = land_cover(SimulationConfig(size=1024, forest_fraction=0.85))
    assert dense.stats["forest_fraction"] == pytest.approx(0.85, abs=0.08)
    fast = land_cover(SimulationConfig(size=1024, deforestation_rate=0.15))
    assert fast.stats["deforestation_rate"] == pytest.approx(0.15, rel=0.3)
    assert fast.stats["loss_share"] > dense.stats["loss_share"]


def test_refuses_existing_outputs_unless_overwrite(tmp_path: Path) -> None:
    cfg = SimulationConfig(name="pair", size=256)
    first = simulate_scene(cfg, tmp_path)
    names = ["pair_after.tif", "pair_before.tif", "pair_mask.tif", "pair_quicklook.png", "pair_simulation.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    stamp = first.before.stat().st_mtime_ns
    with pytest.raises(SentinelError, match="already exist"):
        simulate_scene(cfg, tmp_path)
    assert first.before.stat().st_mtime_ns == stamp
    simulate_scene(cfg, tmp_path, overwrite=True)
    assert first.before.stat().st_mtime_ns != stamp
    # nothing half-written or temporary is left beside the outputs
    assert len(list(tmp_path.iterdir())) == 5


def test_quicklook_is_a_png_with_three_panels(default_scene: SimulatedScene) -> None:
    with Image.open(default_scene.quicklook) as img:
        assert img.format == "PNG"
        width, height = img.size
        pixels = np.asarray(img.convert("RGB"))
    panel = 768  # 1024 px scene, decimated to the default quicklook size
    assert (width, height) == (3 * panel + 2 * 8, panel + 22)
    for gap in (panel, 2 * panel + 8):
        assert np.all(pixels[22:, gap : gap + 8] == 255)  # white gutters between panels
    mask_panel = pixels[22:, 2 * panel + 16 :]
    assert np.any(np.all(mask_panel == (230, 30, 30), axis=-1))  # loss drawn in red


def test_progress_reports_each_phase(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="planet_sentinel"):
        simulate_scene(SimulationConfig(size=256), tmp_path)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("planet_sentinel.sources.synthetic"))
    for phase in ("land cover", "before", "after", "mask", "writing"):
        assert phase in text


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        SimulationConfig(size=128)
    with pytest.raises(ValidationError):
        SimulationConfig(difficulty=1.5)
    with pytest.raises(ValidationError):
        SimulationConfig(clouds=0.2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SimulationConfig(name="../escape")
    with pytest.raises(ValidationError):
        SimulationConfig(pixel_size=20)  # type: ignore[arg-type]
    cfg = SimulationConfig()
    assert (cfg.name, cfg.size, cfg.seed, cfg.difficulty) == ("demo", 2048, 7, 0.3)
    assert cfg.cloud_cover is None and cfg.resolved().cloud_cover is not None
    assert cfg.resolved().deforestation_rate == pytest.approx(0.05 / 0.65, rel=1e-4)
    assert SimulationConfig.model_fields["haze"].description  # each knob is documented
