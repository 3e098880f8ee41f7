"""Tiled whole-scene prediction: seamless tiling, bounded reads, unknown pixels, outputs, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from scipy import ndimage
from shapely.geometry import shape
from torch import nn

from planet_sentinel import predict as predict_module
from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.errors import SentinelError
from planet_sentinel.model import ModelConfig, SiameseUNet
from planet_sentinel.model_bundle import ModelBundle
from planet_sentinel.predict import (
    loss_polygons,
    plan_tiles,
    predict_arrays,
    predict_batch,
    predict_scene,
)
from planet_sentinel.predict import scene as scene_module
from planet_sentinel.raster import Grid, scene_writer
from tests.conftest import utm_grid

FOREST = np.array([230, 470, 270, 2950, 1380, 560], np.float32)
BARE = np.array([950, 1250, 1600, 2250, 3150, 2600], np.float32)
CLOUD = np.array([5600, 5450, 5300, 5650, 3900, 2700], np.float32)
B11 = DEFAULT_BANDS.index("B11")


class OracleNet(nn.Module):
    """A 'perfect' pixel-wise model for these scenes: change = SWIR1 brightened (forest to soil)."""

    multiple = 8

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        # with std 1000, forest -> bare soil raises normalised B11 by 1.77
        return 20.0 * ((after[:, B11 : B11 + 1] - before[:, B11 : B11 + 1]) - 0.9)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: small CPU convolutions are fastest so, and immune to busy CI cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_bundle(model: nn.Module | None = None, threshold: float = 0.5, std: float = 1000.0) -> ModelBundle:
    if model is None:
        torch.manual_seed(0)
        model = SiameseUNet(ModelConfig(in_channels=6, base=8)).eval()
        with torch.no_grad():  # sharpen the untrained head so probabilities span most of 0..1
            model.head.weight.mul_(100.0)
    return ModelBundle(
        model=model,  # type: ignore[arg-type]
        bands=DEFAULT_BANDS,
        mean=np.full(6, 1500.0, np.float32),
        std=np.full(6, std, np.float32),
        chip_size=128,
        threshold=threshold,
        fingerprint="test",
    )


def land_pair(height: int, width: int, loss: np.ndarray | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Textured forest on both dates; bare soil on the after date where ``loss``."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 2.0)
    texture /= texture.std() + 1e-9

    def render(spectrum: np.ndarray, noise_seed: int) -> np.ndarray:
        r = np.random.default_rng(noise_seed)
        img = spectrum[:, None, None] * (1 + 0.05 * texture) + r.normal(0, 20, (6, height, width))
        return img

    before = render(FOREST, seed + 1)
    after = render(FOREST, seed + 2)
    if loss is not None:
        soil = render(BARE, seed + 3)
        after[:, loss] = soil[:, loss]
    return np.clip(before, 1, 65535).astype(np.uint16), np.clip(after, 1, 65535).astype(np.uint16)


def write_pair(
    directory: Path,
    before: np.ndarray,
    after: np.ndarray,
    grid: Grid | None = None,
    bands: tuple[str, ...] = DEFAULT_BANDS,
    name: str = "scene",
) -> tuple[Path, Path]:
    grid = grid or utm_grid(before.shape[1], before.shape[2])
    paths = directory / f"{name}_before.tif", directory / f"{name}_after.tif"
    for path, data in zip(paths, (before, after), strict=True):
        with scene_writer(path, grid, bands) as writer:
            writer.write(data)
    return paths


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


# --------------------------------------------------------------------------------------------
# Tiling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "window", "overlap"),
    [
        (384, 384, 128, 64),
        (300, 517, 128, 32),
        (100, 90, 128, 64),
        (1000, 130, 256, 63),
        (64, 64, 64, 0),
    ],
)
def test_tiles_cover_every_pixel_once_with_margins(height: int, width: int, window: int, overlap: int) -> None:
    tiles = plan_tiles(height, width, window, overlap)
    cover = np.zeros((height, width), np.int32)
    for t in tiles:
        assert (t.height, t.width) == (min(window, height), min(window, width))
        assert 0 <= t.row and t.row + t.height <= height and 0 <= t.col and t.col + t.width <= width
        cover[t.target] += 1
        # kept region is at least overlap // 2 away from every border that is not the scene's
        if t.row > 0:
            assert t.keep_row0 >= overlap // 2
        if t.row + t.height < height:
            assert t.height - t.keep_row1 >= overlap // 2
        if t.col > 0:
            assert t.keep_col0 >= overlap // 2
        if t.col + t.width < width:
            assert t.width - t.keep_col1 >= overlap // 2
    assert (cover == 1).all()


def test_tiling_is_seamless() -> None:
    """Tiled (window 128, overlap 64) equals one window over the whole 384 px scene.

    The U-Net's receptive field (depth 4) is wider than the 32 px margin, so equality is not
    exact in principle; in practice the zero-padding effect of a window border decays to ~1e-7
    within 32 px, whereas without overlap the seams differ by ~0.2.
    """
    bundle = make_bundle(std=300.0)
    loss = np.zeros((384, 384), bool)
    loss[100:180, 150:300] = True
    before, after = land_pair(384, 384, loss)
    whole = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=384, screen=False)
    tiled = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=128, overlap=64, batch_size=4, screen=False)
    naive = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=128, overlap=0, screen=False)
    assert np.isfinite(whole).all()
    assert np.percentile(whole, 99) - np.percentile(whole, 1) > 0.1  # the comparison is not trivial
    assert np.abs(tiled - whole).max() < 1e-4
    assert np.abs(naive - whole).max() > 1e-2  # the test can see seams


def test_small_and_odd_sized_scenes_are_padded_and_cropped() -> None:
    bundle = make_bundle(OracleNet())
    loss = np.zeros((101, 87), bool)
    loss[10:30, 60:87] = True
    loss[90:101, 0:5] = True
    before, after = land_pair(101, 87, loss)
    for window, overlap in ((None, 64), (32, 16), (48, 8)):
        prob = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=window, overlap=overlap)
        assert prob.shape == (101, 87)
        assert np.isfinite(prob).all()
        assert np.array_equal(prob >= 0.5, loss), window


def test_bands_are_selected_by_name() -> None:
    bundle = make_bundle(OracleNet())
    loss = np.zeros((64, 64), bool)
    loss[:20] = True
    before, after = land_pair(64, 64, loss)
    order = [4, 0, 5, 2, 3, 1]
    p1 = predict_arrays(bundle, before, after, DEFAULT_BANDS)
    p2 = predict_arrays(bundle, before[order], after[order], [DEFAULT_BANDS[i] for i in order])
    assert np.array_equal(p1, p2)
    assert np.array_equal(p1 >= 0.5, loss)


def test_eval_mode_and_device() -> None:
    bundle = make_bundle()
    bundle.model.train()  # e.g. a trainer validating mid-training: dropout must be off for prediction
    before, after = land_pair(64, 64)
    first = predict_arrays(bundle, before, after, DEFAULT_BANDS, device="cpu")
    second = predict_arrays(bundle, before, after, DEFAULT_BANDS, device=torch.device("cpu"))
    assert np.array_equal(first, second)
    assert bundle.model.training  # the caller's mode is restored
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert predict_module.resolve_device(None).type == expected
    assert predict_module.resolve_device("cpu").type == "cpu"


# --------------------------------------------------------------------------------------------
# Unknown pixels
# --------------------------------------------------------------------------------------------


def test_nodata_and_clouds_become_unknown(tmp_path: Path) -> None:
    bundle = make_bundle()
    before, after = land_pair(192, 192)
    before[:, 0:40, 0:40] = 0  # nodata on the before date
    after[2, 150:160, 10:20] = 0  # one band missing on the after date
    after[:, 60:100, 100:140] = CLOUD[:, None, None].astype(np.uint16)  # a thick cloud
    after[:, 140:170, 140:180] = (FOREST * 0.3)[:, None, None].astype(np.uint16)  # its shadow
    prob = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=64, overlap=32)
    unknown = np.isnan(prob)
    assert unknown[0:40, 0:40].all() and unknown[150:160, 10:20].all()
    assert unknown[59:101, 100:140].all() and unknown[60:100, 99:141].all()  # cloud plus its 1 px dilation
    assert unknown[136:174, 140:180].all()  # shadow plus its dilation
    expected = np.zeros_like(unknown)
    expected[0:40, 0:40] = expected[150:160, 10:20] = True
    expected[55:105, 95:145] = expected[130:180, 130:190] = True
    assert not unknown[~expected].any()
    # without the cloud screen only nodata is unknown
    unscreened = np.isnan(predict_arrays(bundle, before, after, DEFAULT_BANDS, window=64, overlap=32, screen=False))
    assert unscreened[0:40, 0:40].all() and not unscreened[60:100, 100:140].any()

    # the scene writer of predict_scene marks the same pixels 255 in both rasters
    paths = write_pair(tmp_path, before, after)
    result = predict_scene(bundle, *paths, tmp_path / "out", window=64, overlap=32)
    percent, mask = read(result.probability), read(result.loss)
    assert np.array_equal(percent == 255, unknown)
    assert np.array_equal(mask == 255, unknown)
    assert result.summary["unknown_share"] == pytest.approx(unknown.mean(), abs=1e-6)


def test_scene_and_arrays_give_the_same_results(tmp_path: Path) -> None:
    """The service (predict_arrays) and the CLI (predict_scene) share one core."""
    bundle = make_bundle()
    before, after = land_pair(200, 168, seed=3)
    after[:, 20:50, 30:70] = CLOUD[:, None, None].astype(np.uint16)
    paths = write_pair(tmp_path, before, after)
    prob = predict_arrays(bundle, before, after, DEFAULT_BANDS, window=128, overlap=64, batch_size=3)
    bundle.threshold = float(np.nanmedian(prob))
    result = predict_scene(bundle, *paths, tmp_path / "out", window=128, overlap=64, batch_size=2)
    unknown = np.isnan(prob)
    expected_percent = np.where(unknown, 255, np.round(np.nan_to_num(prob) * 100)).astype(np.uint8)
    expected_mask = np.where(unknown, 255, prob >= bundle.threshold).astype(np.uint8)
    assert np.array_equal(read(result.probability), expected_percent)
    assert np.array_equal(read(result.loss), expected_mask)
    assert 0 < (expected_mask == 1).mean() < 1


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def test_outputs_areas_and_minimum_mapping_unit(tmp_path: Path) -> None:
    loss = np.zeros((256, 256), bool)
    loss[40:60, 100:120] = True  # 20 x 20 px at 10 m = 4 ha
    loss[200:208, 30:38] = True  # 8 x 8 px = 0.64 ha
    loss[150:153, 200:203] = True  # 3 x 3 px = 0.09 ha: below the 0.5 ha unit
    before, after = land_pair(256, 256, loss)
    paths = write_pair(tmp_path, before, after)
    bundle = make_bundle(OracleNet())
    bundle.source = {"name": "planet-sentinel", "version": "3", "alias": "champion"}
    result = predict_scene(bundle, *paths, tmp_path / "out", window=128, overlap=32, min_area_ha=0.5)

    assert result.probability.name == "scene_probability.tif"
    for path in (result.probability, result.loss, result.geojson, result.summary_json, result.quicklook):
        assert path.is_file() and path.stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in (result.probability, result.loss, result.geojson, result.summary_json, result.quicklook)
    )
    with rasterio.open(result.probability) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.nodata == 255 and ds.dtypes[0] == "uint8"
        assert set(np.unique(ds.read(1))) <= {0, 100}
    assert np.array_equal(read(result.loss), loss.astype(np.uint8))  # the raster keeps every pixel

    collection = json.loads(result.geojson.read_text())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    features = collection["features"]
    assert [f["properties"]["area_ha"] for f in features] == [4.0, 0.64]
    assert all(f["properties"]["mean_probability"] == pytest.approx(1.0, abs=0.01) for f in features)
    square = shape(features[0]["geometry"])
    lon, lat = square.centroid.x, square.centroid.y
    assert -64 < lon < -62 and -10.5 < lat < -9  # EPSG:32720 near (500 km E, 8900 km N): lon/lat order
    assert square.exterior.is_ccw  # RFC 7946 right-hand rule
    # back in UTM the polygon covers the 4 ha square
    from rasterio.warp import transform_geom

    utm = shape(transform_geom("EPSG:4326", "EPSG:32720", features[0]["geometry"]))
    assert utm.area / 10_000 == pytest.approx(4.0, rel=1e-3)
    x0, y0 = 500_000 + 100 * 10, 8_900_000 - 40 * 10
    assert utm.bounds == pytest.approx((x0, y0 - 200, x0 + 200, y0), abs=0.05)

    summary = json.loads(result.summary_json.read_text())
    assert summary == result.summary
    assert summary["loss_area_ha"] == pytest.approx(4.64)
    assert summary["loss_pixels_area_ha"] == pytest.approx(4.73)
    assert summary["changed_share"] == pytest.approx(473 / 256**2, abs=1e-6)
    assert summary["unknown_share"] == 0
    assert summary["polygons"] == 2
    assert summary["model"]["alias"] == "champion" and summary["threshold"] == 0.5
    assert {"read", "forward", "write", "total"} <= set(summary["timings_s"])
    assert result.to_dict()["geojson"] == str(result.geojson)


def test_loss_polygons_minimum_mapping_unit() -> None:
    transform = Affine(10, 0, 500_000, 0, -10, 8_900_000)
    mask = np.zeros((50, 50), np.uint8)
    mask[5:12, 5:12] = 1  # 49 px = 0.49 ha
    mask[20:30, 20:30] = 1  # 100 px = 1 ha
    mask[40:45, 40:45] = 255  # unknown is never loss
    prob = np.where(mask == 1, 0.8, 0.1).astype(np.float32)
    features = loss_polygons(mask, transform, "EPSG:32720", 0.5, prob)
    assert [f["properties"]["area_ha"] for f in features] == [1.0]
    assert features[0]["properties"]["mean_probability"] == pytest.approx(0.8)
    assert len(loss_polygons(mask, transform, "EPSG:32720", 0.49)) == 2
    assert len(loss_polygons(mask, transform, "EPSG:32720", 0.0)) == 2
    assert loss_polygons(np.zeros((5, 5), np.uint8), transform, "EPSG:32720") == []


# --------------------------------------------------------------------------------------------
# Bounded memory
# --------------------------------------------------------------------------------------------


def test_scene_is_read_window_by_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size, window = 1024, 128
    loss = np.zeros((size, size), bool)
    loss[300:400, 500:700] = True
    before, after = land_pair(size, size, loss)
    paths = write_pair(tmp_path, before, after)
    pair_bytes = before.nbytes + after.nbytes
    del before, after

    reads: list[tuple[str, object, object]] = []
    original = rasterio.io.DatasetReader.read

    def spy(self, indexes=None, out=None, window=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append((Path(self.name).name, window, kwargs.get("out_shape")))
        return original(self, indexes, out, window, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    # numpy memory at its peak, leaving out the quicklook, which is bounded by its own size (768 px)
    # whatever the scene's, and is checked below to read decimated
    peaks: list[int] = []
    quicklook = scene_module.write_quicklook

    def untraced_quicklook(*args: object, **kwargs: object) -> object:
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        try:
            return quicklook(*args, **kwargs)
        finally:
            tracemalloc.start()

    monkeypatch.setattr(scene_module, "write_quicklook", untraced_quicklook)
    tracemalloc.start()
    try:
        result = predict_scene(
            make_bundle(OracleNet()), *paths, tmp_path / "out", window=window, overlap=32, batch_size=2
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    peak = max(peaks)

    scene_reads = [r for r in reads if r[0] in {paths[0].name, paths[1].name}]
    windowed = [r for r in scene_reads if r[2] is None]
    assert len(windowed) == 2 * len(plan_tiles(size, size, window, 32))
    for _, win, _ in windowed:
        assert win is not None and win.width <= window and win.height <= window
    for _, _, out_shape in scene_reads:  # the quicklook reads through overviews
        assert out_shape is None or max(out_shape[-2:]) <= 768
    assert peak < pair_bytes / 2, (peak, pair_bytes)
    assert result.summary["polygons"] == 1


# --------------------------------------------------------------------------------------------
# Bad input and atomic outputs
# --------------------------------------------------------------------------------------------


def test_bad_inputs(tmp_path: Path) -> None:
    bundle = make_bundle(OracleNet())
    before, after = land_pair(64, 64)
    # bands missing in the scene
    four = write_pair(tmp_path, before[:4], after[:4], bands=DEFAULT_BANDS[:4], name="four")
    with pytest.raises(SentinelError, match=r"B11"):
        predict_scene(bundle, *four, tmp_path / "o1", screen=False)
    with pytest.raises(SentinelError, match=r"B11"):
        predict_arrays(bundle, before[:4], after[:4], DEFAULT_BANDS[:4])
    # scene pair on different grids
    b_path, _ = write_pair(tmp_path, before, after, name="a")
    _, shifted = write_pair(tmp_path, before, after, grid=utm_grid(64, x0=500_010.0), name="b")
    with pytest.raises(SentinelError, match="not on the same grid"):
        predict_scene(bundle, b_path, shifted, tmp_path / "o2")
    # window and overlap
    with pytest.raises(SentinelError, match="multiple of 8"):
        predict_arrays(bundle, before, after, DEFAULT_BANDS, window=100)
    with pytest.raises(SentinelError, match="overlap"):
        predict_arrays(bundle, before, after, DEFAULT_BANDS, window=32, overlap=32)
    with pytest.raises(SentinelError, match="equal"):
        predict_arrays(bundle, before, after[:, :32], DEFAULT_BANDS)
    with pytest.raises(SentinelError, match="equal"):
        predict_batch(bundle, before[None], after[None, :, :32], DEFAULT_BANDS)
    with pytest.raises(SentinelError):
        predict_scene(bundle, tmp_path / "missing_before.tif", b_path, tmp_path / "o3")


def test_existing_outputs_are_refused_and_failures_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = make_bundle(OracleNet())
    loss = np.zeros((64, 64), bool)
    loss[10:30, 10:30] = True
    before, after = land_pair(64, 64, loss)
    paths = write_pair(tmp_path, before, after)
    out = tmp_path / "out"
    first = predict_scene(bundle, *paths, out)
    stamp = first.summary_json.read_text()
    with pytest.raises(SentinelError, match="overwrite"):
        predict_scene(bundle, *paths, out)
    assert first.summary_json.read_text() == stamp

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("vectorising failed")

    monkeypatch.setattr(scene_module, "vectorise", boom)
    with pytest.raises(RuntimeError, match="vectorising failed"):
        predict_scene(bundle, *paths, tmp_path / "fresh")
    assert list((tmp_path / "fresh").iterdir()) == []  # nothing half-written, no staging left
    with pytest.raises(RuntimeError):
        predict_scene(bundle, *paths, out, overwrite=True)
    assert first.summary_json.read_text() == stamp  # a failed overwrite keeps the old outputs
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    monkeypatch.undo()
    second = predict_scene(bundle, *paths, out, overwrite=True, threshold=0.9)
    assert second.summary["threshold"] == 0.9


def test_api_does_not_need_the_cli() -> None:
    code = (
        "import sys, planet_sentinel.predict, planet_sentinel.evaluate, planet_sentinel.clouds; "
        "assert 'click' not in sys.modules, 'click imported'; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
