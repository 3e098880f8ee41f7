from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import (
    Grid,
    atomic_directory,
    atomic_path,
    check_scene,
    scene_writer,
    staged_outputs,
    utm_crs_for,
)
from tests.conftest import utm_grid


def test_grid_bounds_are_left_bottom_right_top() -> None:
    grid = utm_grid(100, width=50, x0=500_000, y0=8_900_000)
    assert grid.bounds == (500_000, 8_899_000, 500_500, 8_900_000)


def test_grid_dict_round_trips_and_is_the_json_of_every_artefact() -> None:
    grid = utm_grid(100, width=50, x0=500_000, y0=8_900_000)
    as_dict = grid.to_dict()
    assert list(as_dict) == ["crs", "transform", "width", "height"]
    assert as_dict == {
        "crs": "EPSG:32720",
        "transform": [10.0, 0.0, 500_000.0, 0.0, -10.0, 8_900_000.0],
        "width": 50,
        "height": 100,
    }
    back = Grid.from_dict(as_dict)
    assert back == grid and not back.differences(grid)


def test_staged_outputs_move_all_or_nothing(tmp_path: Path) -> None:
    keep = tmp_path / "other.txt"
    keep.write_text("not ours")
    targets = {"a": tmp_path / "a.txt", "b": tmp_path / "b.txt"}
    targets["a"].write_text("old a")
    with pytest.raises(RuntimeError), staged_outputs(targets, tmp_path, ".job.") as staged:
        staged["a"].write_text("new a")
        raise RuntimeError("boom")
    assert targets["a"].read_text() == "old a" and not targets["b"].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "other.txt"]
    with staged_outputs(targets, tmp_path, ".job.") as staged:
        assert staged["a"].parent != tmp_path and staged["a"].name == "a.txt"
        staged["a"].write_text("new a")
        staged["b"].write_text("new b")
        assert not targets["b"].exists()  # nothing moves before the block ends
    assert (targets["a"].read_text(), targets["b"].read_text(), keep.read_text()) == ("new a", "new b", "not ours")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "other.txt"]
    with (
        pytest.raises(ValueError, match="distinct file names"),
        staged_outputs({"x": tmp_path / "x" / "s.tif", "y": tmp_path / "y" / "s.tif"}, tmp_path, ".job."),
    ):
        pass


def test_scene_writer_makes_a_cog_with_the_contract(tmp_path: Path) -> None:
    grid = utm_grid(1024)
    data = np.random.default_rng(0).integers(1, 5000, (2, 1024, 1024), dtype=np.uint16)
    path = tmp_path / "s.tif"
    with scene_writer(path, grid, ("B04", "B08")) as writer:
        writer.write(data)
    with rasterio.open(path) as ds:
        assert ds.driver == "GTiff" and ds.block_shapes[0] == (512, 512) and ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.descriptions == ("B04", "B08") and ds.nodata == 0
        np.testing.assert_array_equal(ds.read(), data)
    assert check_scene(path)[1] == ("B04", "B08")
    assert [p.name for p in tmp_path.iterdir()] == ["s.tif"]


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    grid = utm_grid(64)
    path = tmp_path / "s.tif"
    with scene_writer(path, grid, ("B04",)) as writer:
        writer.write(np.ones((1, 64, 64), np.uint16))
    with pytest.raises(RuntimeError), scene_writer(path, grid, ("B04",)) as writer:
        writer.write(np.full((1, 64, 64), 7, np.uint16))
        raise RuntimeError("boom")
    with rasterio.open(path) as ds:
        assert ds.read(1).max() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["s.tif"]


def test_atomic_helpers(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise ValueError
    assert not target.exists() and not list(tmp_path.iterdir())
    out = tmp_path / "dir"
    with atomic_directory(out) as stage:
        (stage / "x").write_text("1")
    with pytest.raises(SentinelError, match="--overwrite"), atomic_directory(out):
        pass
    with pytest.raises(KeyError), atomic_directory(out, overwrite=True) as stage:
        (stage / "x").write_text("2")
        raise KeyError
    assert (out / "x").read_text() == "1"


def test_scene_contract_errors(tmp_path: Path) -> None:
    path = tmp_path / "geo.tif"
    profile = dict(
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint16",
        crs="EPSG:4326",
        transform=rasterio.transform.from_origin(0, 0, 0.0001, 0.0001),
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 8, 8), np.uint16))
    with pytest.raises(SentinelError, match="projected CRS"):
        check_scene(path)
    with pytest.raises(SentinelError, match="outside the UTM range"):
        utm_crs_for(0, 85)
    assert utm_crs_for(-62.85, -9.9) == "EPSG:32720"
    assert utm_crs_for(2.35, 48.85) == "EPSG:32631"
    assert Grid.read(path).width == 8
