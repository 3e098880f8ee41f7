"""Scenes without band descriptions (what gdal_merge, QGIS and SNAP write): accepted with a stated
band order (`--bands`), refused with a message naming the flag otherwise, and refused when the
stated order has the wrong count or contradicts the descriptions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from planet_sentinel.bands import DEFAULT_BANDS, BandOrder
from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import check_scene, check_scene_pair
from tests.conftest import FakeScene
from tests.test_predict import land_pair, make_bundle, write_pair

ORDER = ",".join(DEFAULT_BANDS)


def unnamed_copy(source: Path, target: Path, descriptions: tuple[str | None, ...] | None = None) -> Path:
    """Rewrite a scene as a plain GeoTIFF the way gdal_merge.py does (Driver.Create, pixels copied,
    no SetDescription), optionally with some ``descriptions`` set."""
    with rasterio.open(source) as src:
        profile = {**src.profile, "driver": "GTiff"}
        data = src.read()
    with rasterio.open(target, "w", **profile) as out:
        out.write(data)
        for i, desc in enumerate(descriptions or (), start=1):
            if desc:
                out.set_band_description(i, desc)
    with rasterio.open(target) as ds:
        assert ds.descriptions == (descriptions or (None,) * ds.count)
    return target


def unnamed_pair(scene: FakeScene, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return (
        unnamed_copy(scene.before, directory / "merged_before.tif"),
        unnamed_copy(scene.after, directory / "merged_after.tif"),
    )


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_stated_order_rules(fake_scene: FakeScene, tmp_path: Path) -> None:
    before, after = unnamed_pair(fake_scene, tmp_path)
    with pytest.raises(SentinelError) as refused:
        check_scene(before)
    message = str(refused.value)
    assert "band 1 of 6 has no band description" in message
    assert f"--bands {ORDER}" in message  # the flag and the expected names
    grid, names = check_scene(before, order=BandOrder(names=DEFAULT_BANDS))
    assert names == DEFAULT_BANDS and grid == check_scene(fake_scene.before)[0]
    assert check_scene_pair(before, after, BandOrder.parse("b2,B3,b04,nir,B11,b12"))[1] == DEFAULT_BANDS
    with pytest.raises(SentinelError, match=r"--bands names 4 bands \(B02,B03,B04,B08\) but the file has 6"):
        check_scene(before, order=BandOrder(names=DEFAULT_BANDS[:4]))
    # descriptions that are band names must agree with the stated order; others contradict nothing
    partly = unnamed_copy(fake_scene.before, tmp_path / "partly.tif", ("B02", None, "Band 3", "B08", None, None))
    assert check_scene(partly, order=BandOrder(names=DEFAULT_BANDS))[1] == DEFAULT_BANDS
    swapped = ("B03", "B02", *DEFAULT_BANDS[2:])
    with pytest.raises(SentinelError, match="band 1 is described as B02 but --bands says B03") as conflict:
        check_scene(fake_scene.before, order=BandOrder(names=swapped))
    assert "band 2 is described as B03 but --bands says B02" in str(conflict.value)
    assert check_scene(fake_scene.before, order=BandOrder(names=DEFAULT_BANDS))[1] == DEFAULT_BANDS
    with pytest.raises(ValueError, match="--bands: duplicate"):
        BandOrder.parse("B02,B02")
    assert BandOrder.parse(" ").names is None


def test_chip_and_labels_through_the_cli(fake_scene: FakeScene, tmp_path: Path) -> None:
    before, after = unnamed_pair(fake_scene, tmp_path / "merged")
    chip = ["chip", "--before", before, "--after", after, "--mask", fake_scene.mask, "--size", "128"]
    code, output = run(*chip, "--out-dir", tmp_path / "refused")
    assert code == 1 and "has no band description" in output and f"--bands {ORDER}" in output
    assert not (tmp_path / "refused").exists()
    code, output = run(*chip, "--out-dir", tmp_path / "short", "--bands", "B02,B03,B04")
    assert code == 1 and "--bands names 3 bands (B02,B03,B04) but the file has 6" in output
    code, output = run(*chip, "--out-dir", tmp_path / "bad", "--bands", "B02,B99")
    assert code == 2 and "unknown Sentinel-2 band 'B99'" in output

    code, output = run(*chip, "--out-dir", tmp_path / "chips", "--bands", ORDER, "--json")
    assert code == 0, output
    manifest = json.loads((tmp_path / "chips" / "manifest.json").read_text())
    assert manifest["scene"]["bands"] == list(DEFAULT_BANDS)
    named = ["chip", "--before", fake_scene.before, "--after", fake_scene.after, "--mask", fake_scene.mask]
    assert run(*named, "--size", "128", "--out-dir", tmp_path / "named")[0] == 0
    for key in ("before", "after"):  # the same pixels as chips of the named scene
        np.testing.assert_array_equal(
            np.load(tmp_path / "chips" / f"{key}.npy"), np.load(tmp_path / "named" / f"{key}.npy")
        )

    code, output = run("label", "check", "--before", before, "--after", after, "--mask", fake_scene.mask)
    assert code == 1 and "--bands" in output
    png = tmp_path / "check.png"
    code, output = run(
        "label", "check", "--before", before, "--after", after, "--mask", fake_scene.mask, "--bands", ORDER,
        "--png", png,
    )  # fmt: skip
    assert code == 0 and png.stat().st_size > 0, output
    spectral = ["label", "from-spectral", "--before", before, "--after", after]
    assert run(*spectral, "--out", tmp_path / "p.tif")[0] == 1
    code, output = run(*spectral, "--out", tmp_path / "p.tif", "--bands", ORDER)
    assert code == 0 and (tmp_path / "p.tif").exists(), output
    # from-vector uses the scene's grid only: no band order needed
    polygon = tmp_path / "loss.geojson"
    (west, south, east, north) = fake_scene.grid.bounds
    ring = [[west + 100, south + 100], [west + 900, south + 100], [west + 900, south + 900], [west + 100, south + 100]]
    polygon.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:32720"}},
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
                ],
            }
        )
    )
    code, output = run("label", "from-vector", polygon, "--scene", before, "--out", tmp_path / "v.tif")
    assert code == 0, output


def test_predict_and_evaluate_through_the_cli(tmp_path: Path) -> None:
    model = make_bundle().save(tmp_path / "model.pt")
    loss = np.zeros((64, 64), bool)
    loss[20:40, 20:40] = True
    before, after = land_pair(64, 64, loss)
    named = write_pair(tmp_path, before, after, name="named")
    merged = [unnamed_copy(p, tmp_path / f"merged_{k}.tif") for p, k in zip(named, ("before", "after"), strict=True)]
    predict = ["predict", "--model", model, "--before", merged[0], "--after", merged[1], "--device", "cpu"]
    code, output = run(*predict, "--out-dir", tmp_path / "refused")
    assert code == 1 and "has no band description" in output and f"--bands {ORDER}" in output
    code, output = run(*predict, "--out-dir", tmp_path / "short", "--bands", "B02,B03,B04,B08")
    assert code == 1 and "--bands names 4 bands" in output and "the file has 6" in output
    code, output = run(*predict, "--out-dir", tmp_path / "unnamed", "--name", "x", "--bands", ORDER)
    assert code == 0, output
    code, output = run(
        *predict[:4], named[0], "--after", named[1], "--device", "cpu", "--out-dir", tmp_path / "n", "--name", "x"
    )
    assert code == 0, output
    with (
        rasterio.open(tmp_path / "unnamed" / "x_probability.tif") as a,
        rasterio.open(tmp_path / "n" / "x_probability.tif") as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())
        assert len(np.unique(a.read())) > 5  # a real map, not a constant

    mask = tmp_path / "mask.tif"
    from planet_sentinel.raster import mask_writer
    from tests.conftest import utm_grid

    with mask_writer(mask, utm_grid(64)) as writer:
        writer.write(loss.astype(np.uint8))
    evaluate = ["evaluate", "--model", model, "--before", merged[0], "--after", merged[1], "--mask", mask, "--no-log"]
    code, output = run(*evaluate, "--out-dir", tmp_path / "e1")
    assert code == 1 and "--bands" in output
    code, output = run(*evaluate, "--out-dir", tmp_path / "e2", "--bands", ORDER)
    assert code == 0, output
