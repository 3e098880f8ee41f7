"""Masks from vector polygons and from spectral change, and their review."""

from __future__ import annotations

import json
from pathlib import Path

import fiona
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.errors import SentinelError
from planet_sentinel.labels import LabelConfig, check_labels, mask_from_spectral, mask_from_vector
from planet_sentinel.raster import Grid, check_mask, mask_writer, scene_writer

UTM = "EPSG:32720"
X0, Y0 = 500_000.0, 8_900_000.0
N = 100
GRID = Grid(CRS.from_string(UTM), Affine(10, 0, X0, 0, -10, Y0), N, N)

FOREST = {"B02": 300, "B03": 500, "B04": 300, "B08": 3500, "B11": 1500, "B12": 700}
FIELD = {"B04": 1500, "B08": 2000}
CLEARED = {"B04": 1200, "B08": 2200, "B12": 2000}  # NDVI drop 0.55, NBR drop 0.62
GREENUP = {"B04": 1000, "B08": 2500, "B12": 700}  # NDVI drop 0.41, NBR drop 0.10 only

BIG = (slice(10, 30), slice(10, 30))  # 400 px = 4 ha clearing
SMALL = (slice(50, 53), slice(50, 53))  # 9 px = 0.09 ha, below the 0.5 ha MMU
DIAG = ((slice(40, 45), slice(60, 65)), (slice(45, 50), slice(65, 70)))  # 2 x 25 px, corner-touch
FIELD_AREA = (slice(0, 40), slice(80, 100))
FIELD_CLEARED = (slice(10, 30), slice(85, 95))
PHENOLOGY = (slice(60, 80), slice(10, 30))


def _paint(stack: dict[str, np.ndarray], where: tuple[slice, slice], values: dict[str, int]) -> None:
    for band, value in values.items():
        stack[band][where] = value


def _write_scene(
    path: Path, stack: dict[str, np.ndarray], grid: Grid = GRID, bands: tuple[str, ...] = DEFAULT_BANDS
) -> Path:
    with scene_writer(path, grid, bands) as writer:
        writer.write(np.stack([stack[b] for b in bands]))
    return path


def _write_mask(path: Path, mask: np.ndarray, grid: Grid = GRID) -> Path:
    with mask_writer(path, grid) as writer:
        writer.write(mask)
    return path


@pytest.fixture
def scenes(tmp_path: Path) -> tuple[Path, Path]:
    before = {b: np.full((N, N), v, np.uint16) for b, v in FOREST.items()}
    _paint(before, FIELD_AREA, FIELD)
    after = {b: a.copy() for b, a in before.items()}
    for where in (BIG, SMALL, *DIAG):
        _paint(after, where, CLEARED)
    _paint(after, FIELD_CLEARED, CLEARED)
    _paint(after, PHENOLOGY, GREENUP)
    for arr in before.values():
        arr[95:] = 0  # before nodata: last five rows
    after["B12"][0:5, 40:45] = 0  # after nodata in one band only
    return (_write_scene(tmp_path / "s_before.tif", before), _write_scene(tmp_path / "s_after.tif", after))


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


# ------------------------------------------------------------------------------ spectral


def test_spectral_pseudo_labels(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    summary = mask_from_spectral(before, after, tmp_path / "spec.tif")
    mask = _read(summary.mask)
    check_mask(summary.mask, GRID)
    assert np.all(mask[BIG] == 1)
    assert np.all(mask[SMALL] == 0)  # below the MMU
    assert all(np.all(mask[w] == 1) for w in DIAG)  # 8-connected: one 0.5 ha patch
    assert np.all(mask[FIELD_CLEARED] == 0)  # not forest before
    assert np.all(mask[PHENOLOGY] == 0)  # NDVI drop without NBR drop
    assert np.all(mask[95:] == 255) and np.all(mask[0:5, 40:45] == 255)
    assert summary.loss == 450 and int((mask == 1).sum()) == 450
    assert summary.unknown == 500 + 25
    assert summary.loss_ha == pytest.approx(4.5)
    assert summary.params["mmu_pixels"] == 50
    assert summary.params["patches_found"] == 3 and summary.params["patches_removed_by_mmu"] == 1
    d = summary.to_dict()
    assert d["method"] == "spectral" and d["mask"] == str(tmp_path / "spec.tif")
    json.dumps(d)  # serialisable
    with rasterio.open(summary.mask) as ds:
        assert ds.tags()["method"] == "spectral"


def test_spectral_thresholds_and_mmu(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    loose = mask_from_spectral(before, after, tmp_path / "a.tif", nbr_drop=0.05, mmu_ha=0)
    mask = _read(loose.mask)
    assert np.all(mask[PHENOLOGY] == 1) and np.all(mask[SMALL] == 1)
    strict = mask_from_spectral(before, after, tmp_path / "b.tif", mmu_ha=1.0)
    assert strict.loss == 400  # the 0.5 ha diagonal patch goes too


def test_spectral_bad_inputs(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    no_swir = {b: np.full((N, N), v, np.uint16) for b, v in FOREST.items()}
    four = _write_scene(tmp_path / "four.tif", no_swir, bands=("B02", "B03", "B04", "B08"))
    with pytest.raises(SentinelError, match=r"bands \['B12'\] missing"):
        mask_from_spectral(four, four, tmp_path / "x.tif")
    with pytest.raises(SentinelError, match="do not match the expected"):
        mask_from_spectral(before, four, tmp_path / "x.tif")
    shifted = Grid(GRID.crs, Affine(10, 0, X0 + 10, 0, -10, Y0), N, N)
    other = _write_scene(tmp_path / "other.tif", no_swir | {"B11": no_swir["B08"], "B12": no_swir["B08"]}, grid=shifted)
    with pytest.raises(SentinelError, match="not on the same grid: transform"):
        mask_from_spectral(before, other, tmp_path / "x.tif")
    with pytest.raises(SentinelError, match="no such file"):
        mask_from_spectral(before, tmp_path / "missing.tif", tmp_path / "x.tif")
    with pytest.raises(SentinelError, match="mmu_ha"):
        mask_from_spectral(before, after, tmp_path / "x.tif", mmu_ha=-1)
    assert not (tmp_path / "x.tif").exists()


def test_outputs_refused_unless_overwrite(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    out = _write_mask(tmp_path / "m.tif", np.zeros((N, N), np.uint8))
    with pytest.raises(SentinelError, match="already exist"):
        mask_from_spectral(before, after, out)
    assert _read(out).max() == 0
    assert mask_from_spectral(before, after, out, overwrite=True).loss == 450
    with pytest.raises(SentinelError, match="already exist"):
        mask_from_vector(tmp_path / "any.geojson", before, out)


# ------------------------------------------------------------------------------ vector


def _utm_box(rows: slice, cols: slice):
    """The UTM footprint of a pixel block."""
    return box(X0 + cols.start * 10, Y0 - rows.stop * 10, X0 + cols.stop * 10, Y0 - rows.start * 10)


def _geojson(path: Path, features: list[dict]) -> Path:
    out = []
    for i, f in enumerate(features):
        geom = f["geometry"]
        if not isinstance(geom, dict):
            geom = transform_geom(UTM, "EPSG:4326", mapping(geom))
        out.append({"type": "Feature", "id": f.get("id", i), "properties": f.get("properties", {}), "geometry": geom})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": out}))
    return path


UNKNOWN_BLOCK = (slice(20, 40), slice(20, 40))  # overlaps BIG on rows 20-29, cols 20-29


def _two_classes(path: Path, loss: str, unknown: str, attribute: str = "class") -> Path:
    """BIG with class value ``loss`` and UNKNOWN_BLOCK with ``unknown``, in lon/lat."""
    blocks = ((BIG, loss), (UNKNOWN_BLOCK, unknown))
    return _geojson(path, [{"geometry": _utm_box(*b), "properties": {attribute: v}} for b, v in blocks])


def test_vector_classes_in_lonlat(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, _ = scenes
    vector = _two_classes(tmp_path / "labels.geojson", " Loss ", "cloud")
    summary = mask_from_vector(vector, before, tmp_path / "v.tif", class_field="class")
    mask = _read(summary.mask)
    check_mask(summary.mask, GRID)
    assert np.all(mask[10:20, 10:30] == 1) and np.all(mask[20:30, 10:20] == 1)
    assert np.all(mask[UNKNOWN_BLOCK] == 255)  # unknown wins over loss
    assert np.all(mask[95:] == 255)  # scene nodata
    assert summary.loss == 300 and summary.unknown == 400 + 500
    assert summary.no_loss == N * N - 300 - 900
    assert summary.params["features"] == {"features": 2, "loss": 1, "unknown": 1}
    assert summary.to_dict()["method"] == "vector"


def test_vector_without_class_field_is_all_loss(tmp_path: Path, scenes) -> None:
    before, _ = scenes
    vector = _two_classes(tmp_path / "l.geojson", "loss", "cloud")
    summary = mask_from_vector(vector, before, tmp_path / "v.tif")
    assert summary.loss == 700 and summary.unknown == 500


def test_vector_all_touched(tmp_path: Path, scenes) -> None:
    before, _ = scenes
    tiny = box(X0 + 501, Y0 - 504, X0 + 504, Y0 - 501)  # 3 m square in a pixel's corner
    vector = _geojson(tmp_path / "t.geojson", [{"geometry": tiny}])
    plain = mask_from_vector(vector, before, tmp_path / "a.tif")
    assert plain.loss == 0 and plain.notes
    touched = mask_from_vector(vector, before, tmp_path / "b.tif", all_touched=True)
    assert touched.loss == 1 and _read(touched.mask)[50, 50] == 1


def test_vector_geopackage_layers_in_scene_crs(tmp_path: Path, scenes) -> None:
    before, _ = scenes
    gpkg = tmp_path / "labels.gpkg"
    schema = {"geometry": "Polygon", "properties": {"kind": "str"}}
    for layer, rows in (("analyst_a", BIG), ("analyst_b", PHENOLOGY)):
        with fiona.open(gpkg, "w", driver="GPKG", layer=layer, crs=UTM, schema=schema) as dst:
            dst.write({"geometry": mapping(_utm_box(*rows)), "properties": {"kind": "deforestation"}})
    with pytest.raises(SentinelError, match="choose one with --layer"):
        mask_from_vector(gpkg, before, tmp_path / "x.tif")
    with pytest.raises(SentinelError, match="no layer 'nope'"):
        mask_from_vector(gpkg, before, tmp_path / "x.tif", layer="nope")
    with pytest.raises(SentinelError, match="no attribute 'class'"):
        mask_from_vector(gpkg, before, tmp_path / "x.tif", layer="analyst_b", class_field="class")
    summary = mask_from_vector(gpkg, before, tmp_path / "b.tif", layer="analyst_b", class_field="kind")
    assert summary.loss == 400 and np.all(_read(summary.mask)[PHENOLOGY] == 1)


def test_vector_bad_features(tmp_path: Path, scenes) -> None:
    before, _ = scenes
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[-63, -10], [-62.99, -9.99], [-62.99, -10], [-63, -9.99], [-63, -10]]],
    }
    invalid = _geojson(tmp_path / "i.geojson", [{"geometry": _utm_box(*BIG)}, {"id": 7, "geometry": bowtie}])
    with pytest.raises(SentinelError, match="feature 7 has an invalid geometry: Self-intersection"):
        mask_from_vector(invalid, before, tmp_path / "x.tif")
    point = _geojson(tmp_path / "p.geojson", [{"id": 3, "geometry": {"type": "Point", "coordinates": [-63.0, -10.0]}}])
    with pytest.raises(SentinelError, match="feature 3 is a Point"):
        mask_from_vector(point, before, tmp_path / "x.tif")
    typo = _geojson(tmp_path / "c.geojson", [{"id": 4, "geometry": _utm_box(*BIG), "properties": {"class": "los"}}])
    with pytest.raises(SentinelError, match=r"'los' \(features 4\)"):
        mask_from_vector(typo, before, tmp_path / "x.tif", class_field="class")
    far_box = box(X0 + 50_000, Y0, X0 + 50_100, Y0 + 100)
    far = _geojson(tmp_path / "far.geojson", [{"geometry": far_box}])
    with pytest.raises(SentinelError, match="no polygon overlaps the scene"):
        mask_from_vector(far, before, tmp_path / "x.tif")
    empty = _geojson(tmp_path / "e.geojson", [])
    with pytest.raises(SentinelError, match="no polygons"):
        mask_from_vector(empty, before, tmp_path / "x.tif")
    not_vector = tmp_path / "n.geojson"
    not_vector.write_text("hello")
    with pytest.raises(SentinelError, match="not a readable vector"):
        mask_from_vector(not_vector, before, tmp_path / "x.tif")
    with pytest.raises(SentinelError, match="no such file"):
        mask_from_vector(tmp_path / "missing.geojson", before, tmp_path / "x.tif")
    assert not (tmp_path / "x.tif").exists()


# ------------------------------------------------------------------------------ check


def test_check_labels_report_and_png(tmp_path: Path, scenes) -> None:
    before, after = scenes
    mask = mask_from_spectral(before, after, tmp_path / "m.tif").mask
    png = tmp_path / "review" / "check.png"
    report = check_labels(before, after, mask, png)
    c = report.classes
    assert (c["loss"], c["unknown"], c["no_loss"]) == (450, 525, N * N - 975)
    assert c["loss_share"] == pytest.approx(0.045)
    assert c["loss_share_of_known"] == pytest.approx(450 / (N * N - 525))
    p = report.patches
    assert p["count"] == 2
    assert p["size_ha"]["max"] == pytest.approx(4.0) and p["size_ha"]["min"] == pytest.approx(0.5)
    assert p["size_classes_ha"]["1-5"] == 1 and p["size_classes_ha"]["0.5-1"] == 1
    assert report.bands == list(DEFAULT_BANDS)
    assert report.warnings == []
    from PIL import Image

    with Image.open(png) as img:
        assert img.size == (3 * N + 2 * 8, N + 22)
        pixels = np.asarray(img.convert("RGB"))
    # the overlay panel shows loss in red where the clearing is
    x0 = 2 * (N + 8)
    r, g, b = pixels[22 + 20, x0 + 20].astype(int)
    assert r > g + 50 and r > b + 50
    d = report.to_dict()
    assert d["png"] == str(png) and json.dumps(d)


def test_check_labels_warns_on_empty_mask(tmp_path: Path, scenes) -> None:
    before, after = scenes
    mask = _write_mask(tmp_path / "zero.tif", np.zeros((N, N), np.uint8))
    report = check_labels(before, after, mask, None)
    assert report.patches["count"] == 0 and report.png is None
    assert any("no loss" in w for w in report.warnings)
    speck = np.zeros((N, N), np.uint8)
    speck[SMALL] = 1
    speck[70, 70] = 1
    report = check_labels(before, after, _write_mask(tmp_path / "speck.tif", speck), None)
    assert report.patches["count"] == 2 and report.patches["single_pixel_patches"] == 1
    assert any("2 of 2 loss patches are below the 0.5 ha" in w for w in report.warnings)


def test_check_labels_bad_inputs(tmp_path: Path, scenes) -> None:
    before, after = scenes
    good = _write_mask(tmp_path / "m.tif", np.zeros((N, N), np.uint8))
    shifted = Grid(GRID.crs, Affine(10, 0, X0, 0, -10, Y0 + 20), N, N)
    off_grid = _write_mask(tmp_path / "off.tif", np.zeros((N, N), np.uint8), grid=shifted)
    with pytest.raises(SentinelError, match="not on the same grid: transform"):
        check_labels(before, after, off_grid)
    smaller = Grid(GRID.crs, GRID.transform, N - 1, N)
    small = _write_mask(tmp_path / "small.tif", np.zeros((N, N - 1), np.uint8), grid=smaller)
    with pytest.raises(SentinelError, match="size 100x100 vs 99x100"):
        check_labels(before, after, small)
    stack = {b: np.full((N, N), v, np.uint16) for b, v in FOREST.items()}
    moved = _write_scene(tmp_path / "moved.tif", stack, grid=shifted)
    with pytest.raises(SentinelError, match=r"before .* and after .* are not on the same grid"):
        check_labels(before, moved, good)
    four = _write_scene(tmp_path / "four.tif", stack, bands=("B02", "B03", "B04", "B08"))
    with pytest.raises(SentinelError, match=r"\(4 vs 6 bands\)"):
        check_labels(before, four, good)
    with rasterio.open(
        tmp_path / "two.tif",
        "w",
        driver="GTiff",
        width=N,
        height=N,
        count=2,
        dtype="uint8",
        crs=GRID.crs,
        transform=GRID.transform,
    ) as ds:
        ds.write(np.zeros((2, N, N), np.uint8))
    with pytest.raises(SentinelError, match="one uint8 band, got 2"):
        check_labels(before, after, tmp_path / "two.tif")
    sevens = _write_mask(tmp_path / "sevens.tif", np.full((N, N), 7, np.uint8))
    with pytest.raises(SentinelError, match=r"values \[7\] are not mask classes"):
        check_labels(before, after, sevens)
    text = tmp_path / "text.tif"
    text.write_text("no raster here")
    with pytest.raises(SentinelError, match="not a readable raster"):
        check_labels(before, after, text)
    with pytest.raises(SentinelError, match="no such file"):
        check_labels(before, after, tmp_path / "missing.tif")


# ------------------------------------------------------------------------------ settings


def _label_cli(*args: object, env: dict[str, str] | None = None) -> tuple[int, str]:
    from click.testing import CliRunner

    from planet_sentinel.cli import cli

    result = CliRunner().invoke(cli, ["label", *map(str, args)], env=env)
    return result.exit_code, result.output


def test_label_config_defaults_are_the_help_defaults() -> None:
    from planet_sentinel.commands.label import LabelSetting, label

    cfg = LabelConfig()
    assert (cfg.ndvi_drop, cfg.nbr_drop, cfg.forest_ndvi, cfg.mmu_ha) == (0.25, 0.3, 0.65, 0.5)
    assert (cfg.class_field, cfg.all_touched) == (None, False)
    assert cfg.loss_values == ("loss", "deforestation", "1") and cfg.unknown_values == ("unknown", "cloud", "255")
    shown = 0
    for name in ("from-spectral", "from-vector"):
        code, output = _label_cli(name, "--help")
        assert code == 0, output
        text = " ".join(output.split())  # help wraps long lines
        for param in label.commands[name].params:
            if isinstance(param, LabelSetting):
                field = LabelConfig.model_fields[str(param.name)]
                assert field.description and field.description[1:] in text
                if field.default not in (None, False):
                    assert f"{param.opts[0]} FLOAT {field.description[0].upper()}" in text
                    assert f"[default: {field.default}]" in text
                    shown += 1
    assert shown == 4


def test_spectral_settings_flag_over_env_over_params(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    params = tmp_path / "params.yaml"
    params.write_text("label:\n  mmu_ha: 0\n  nbr_drop: 0.2\n  forest_ndvi: 0.6\n")
    env = {"SENTINEL_PARAMS": str(params), "SENTINEL_LABEL_NBR_DROP": "0.05"}
    spectral = ["from-spectral", "--before", before, "--after", after, "--json"]
    code, output = _label_cli(*spectral, "--out", tmp_path / "a.tif", env=env)
    assert code == 0, output
    loose = json.loads(output)
    assert (loose["params"]["nbr_drop"], loose["params"]["mmu_ha"], loose["params"]["forest_ndvi"]) == (0.05, 0, 0.6)
    assert loose["loss"] == mask_from_spectral(before, after, tmp_path / "b.tif", nbr_drop=0.05, mmu_ha=0).loss
    code, output = _label_cli(*spectral, "--out", tmp_path / "c.tif", "--mmu-ha", "1.0", env=env)
    assert code == 0, output
    assert json.loads(output)["params"]["mmu_ha"] == 1.0
    params.write_text("label:\n  ndvi_drop: 3\n")
    code, output = _label_cli(*spectral, "--out", tmp_path / "d.tif", env={"SENTINEL_PARAMS": str(params)})
    assert code == 1 and "invalid label settings: ndvi_drop" in output and not (tmp_path / "d.tif").exists()
    params.write_text("label:\n  mmu: 1\n")
    code, output = _label_cli(*spectral, "--out", tmp_path / "d.tif", env={"SENTINEL_PARAMS": str(params)})
    assert code == 1 and "unknown keys ['mmu']" in output and "mmu_ha" in output


def test_vector_settings_from_params_and_env(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, _ = scenes
    vector = _two_classes(tmp_path / "labels.geojson", "Clearing", "haze", attribute="kind")
    params = tmp_path / "params.yaml"
    params.write_text("label:\n  class_field: kind\n  unknown_values: [haze]\n")
    env = {"SENTINEL_PARAMS": str(params), "SENTINEL_LABEL_LOSS_VALUES": "loss, clearing"}
    code, output = _label_cli("from-vector", vector, "--scene", before, "--out", tmp_path / "v.tif", "--json", env=env)
    assert code == 0, output
    summary = json.loads(output)
    assert (summary["loss"], summary["unknown"]) == (300, 400 + 500)
    assert summary["params"]["loss_values"] == ["loss", "clearing"]
    assert summary["params"]["unknown_values"] == ["haze"]
    none = {"SENTINEL_PARAMS": str(tmp_path / "absent.yaml")}
    code, output = _label_cli("from-vector", vector, "--scene", before, "--out", tmp_path / "w.tif", "--json", env=none)
    assert code == 0 and json.loads(output)["loss"] == 700  # no class field: every polygon is loss


def test_a_config_and_overrides_in_the_library(tmp_path: Path, scenes: tuple[Path, Path]) -> None:
    before, after = scenes
    loose = mask_from_spectral(before, after, tmp_path / "a.tif", LabelConfig(mmu_ha=0), nbr_drop=0.05)
    assert loose.params["mmu_ha"] == 0 and loose.params["nbr_drop"] == 0.05
    assert np.all(_read(loose.mask)[PHENOLOGY] == 1) and np.all(_read(loose.mask)[SMALL] == 1)
    kept = mask_from_spectral(before, after, tmp_path / "b.tif", LabelConfig(mmu_ha=0), mmu_ha=None)
    assert kept.params["mmu_ha"] == 0  # None keeps the config's value
    with pytest.raises(SentinelError, match="invalid label settings: ndvi_drop"):
        mask_from_spectral(before, after, tmp_path / "x.tif", ndvi_drop=2.5)
    with pytest.raises(SentinelError, match="forest_ndvi"):
        mask_from_spectral(before, after, tmp_path / "x.tif", LabelConfig(), forest_ndvi=-1.5)
    assert not (tmp_path / "x.tif").exists()
