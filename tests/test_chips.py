from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from planet_sentinel.chips import ChipConfig, ChipStore, chip_scene, export_chip, find_chip_dirs, offsets
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import scene_writer
from tests.conftest import FakeScene, utm_grid, write_fake_scene


def test_offsets_cover_the_edge() -> None:
    assert offsets(512, 256, 256) == [0, 256]
    assert offsets(600, 256, 256) == [0, 256, 344]
    assert offsets(512, 256, 224) == [0, 224, 256]
    with pytest.raises(SentinelError, match="larger than the scene"):
        offsets(100, 256, 256)


def test_chips_hold_the_scene_pixels(fake_scene: FakeScene, tmp_path: Path) -> None:
    out = tmp_path / "chips"
    summary = chip_scene(
        fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128)
    )
    store = ChipStore(out)
    assert summary.counts["kept"] == len(store.chips) == store.arrays["before"].shape[0]
    assert store.arrays["before"].shape[1:] == (6, 128, 128)
    for chip in store.chips[:: max(1, len(store.chips) // 5)]:
        r, c, i = chip.row, chip.col, chip.index
        np.testing.assert_array_equal(
            store.arrays["before"][i], fake_scene.arrays["before"][:, r : r + 128, c : c + 128]
        )
        np.testing.assert_array_equal(store.arrays["after"][i], fake_scene.arrays["after"][:, r : r + 128, c : c + 128])
        expected_mask = fake_scene.arrays["mask"][r : r + 128, c : c + 128]
        np.testing.assert_array_equal(store.arrays["mask"][i], expected_mask)
        labelled = expected_mask != 255
        share = (expected_mask == 1).sum() / labelled.sum() if labelled.any() else 0.0
        assert chip.change_share == pytest.approx(share, abs=1e-4)
        left, bottom, right, top = chip.bounds
        assert (left, top) == (500_000 + 10 * c, 8_900_000 - 10 * r)
        assert right - left == 1280


def test_splits_are_spatially_disjoint_with_overlap(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path / "raw", size=1024)
    config = ChipConfig(size=128, overlap=32, split_block=256)
    chip_scene(scene.before, scene.after, scene.mask, tmp_path / "chips", config)
    store = ChipStore(tmp_path / "chips")
    by_split = {s: [c for c in store.chips if c.split == s] for s in ("train", "val", "test")}
    assert all(by_split.values()), {k: len(v) for k, v in by_split.items()}
    assert any(c.split == "buffer" for c in store.chips)
    # No pixel is shared between chips of different splits.
    for a_split, b_split in (("train", "val"), ("train", "test"), ("val", "test")):
        for a in by_split[a_split]:
            for b in by_split[b_split]:
                overlap_rows = min(a.row, b.row) + 128 > max(a.row, b.row)
                overlap_cols = min(a.col, b.col) + 128 > max(a.col, b.col)
                assert not (overlap_rows and overlap_cols), (a, b)


def test_validation_and_test_see_loss(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path / "raw", size=1024)
    chip_scene(scene.before, scene.after, scene.mask, tmp_path / "chips", ChipConfig(size=128, split_block=128))
    store = ChipStore(tmp_path / "chips")
    for split in ("val", "test"):
        shares = [c.change_share for c in store.chips if c.split == split]
        assert max(shares) > 0, f"{split} has no chip with loss"


def test_mostly_nodata_chips_are_dropped(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path / "raw", size=512, nodata_rows=180)
    summary = chip_scene(
        scene.before, scene.after, scene.mask, tmp_path / "chips", ChipConfig(size=128, split_block=128)
    )
    store = ChipStore(tmp_path / "chips")
    assert summary.counts["dropped_invalid"] == 4  # the first row of chips is 100 % nodata
    assert min(c.row for c in store.chips) >= 128
    # The 52 nodata rows left in the second chip row are marked unknown in the chip masks.
    second_row = [c for c in store.chips if c.row == 128]
    assert all(c.nodata_share == pytest.approx(52 / 128) for c in second_row)
    assert (store.arrays["mask"][second_row[0].index][:52] == 255).all()


def test_unlabelled_scene_chips_without_mask(fake_scene: FakeScene, tmp_path: Path) -> None:
    chip_scene(fake_scene.before, fake_scene.after, None, tmp_path / "chips", ChipConfig(size=128, split_block=128))
    store = ChipStore(tmp_path / "chips")
    assert not store.labelled and "mask" not in store.arrays
    assert store.manifest.labelled is False


def test_export_writes_a_georeferenced_chip(fake_scene: FakeScene, tmp_path: Path) -> None:
    chip_scene(
        fake_scene.before, fake_scene.after, fake_scene.mask, tmp_path / "chips", ChipConfig(size=128, split_block=128)
    )
    store = ChipStore(tmp_path / "chips")
    chip = store.chips[5]
    paths = export_chip(tmp_path / "chips", 5, tmp_path / "export")
    with rasterio.open(paths["before"]) as ds:
        assert ds.crs == fake_scene.grid.crs
        assert ds.transform.c == 500_000 + 10 * chip.col
        assert ds.transform.f == 8_900_000 - 10 * chip.row
        assert ds.descriptions == tuple(store.bands)
        np.testing.assert_array_equal(
            ds.read(), fake_scene.arrays["before"][:, chip.row : chip.row + 128, chip.col : chip.col + 128]
        )
    with rasterio.open(paths["mask"]) as ds:
        assert ds.nodata == 255
    with pytest.raises(SentinelError, match="already exist"):
        export_chip(tmp_path / "chips", 5, tmp_path / "export")
    with pytest.raises(SentinelError, match="out of range"):
        export_chip(tmp_path / "chips", 10_000, tmp_path / "export2")


def test_refuses_existing_output_and_keeps_it(fake_scene: FakeScene, tmp_path: Path) -> None:
    out = tmp_path / "chips"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128))
    before = (out / "manifest.json").read_text()
    with pytest.raises(SentinelError, match="--overwrite"):
        chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=256, split_block=256))
    assert (out / "manifest.json").read_text() == before
    chip_scene(
        fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=256, split_block=256), overwrite=True
    )
    assert ChipStore(out).size == 256


def test_failure_leaves_no_partial_output(fake_scene: FakeScene, tmp_path: Path) -> None:
    out = tmp_path / "chips"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128))
    with pytest.raises(SentinelError, match="larger than the scene"):
        chip_scene(
            fake_scene.before,
            fake_scene.after,
            fake_scene.mask,
            out,
            ChipConfig(size=1024, split_block=1024),
            overwrite=True,
        )
    assert ChipStore(out).size == 128  # the old chips survive a failed overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chips", "raw"]


def test_bad_inputs(fake_scene: FakeScene, tmp_path: Path) -> None:
    other = write_fake_scene(tmp_path / "other", size=512, width=384)
    with pytest.raises(SentinelError, match="not on the same grid"):
        chip_scene(fake_scene.before, other.after, None, tmp_path / "c1")
    with pytest.raises(SentinelError, match="not on the same grid"):
        chip_scene(fake_scene.before, fake_scene.after, other.mask, tmp_path / "c2")
    four = write_fake_scene(tmp_path / "four", size=512, bands=("B02", "B03", "B04", "B08"))
    with pytest.raises(SentinelError, match="do not match"):
        chip_scene(fake_scene.before, four.after, None, tmp_path / "c3")
    with pytest.raises(SentinelError, match="no such file"):
        chip_scene(tmp_path / "nope.tif", fake_scene.after, None, tmp_path / "c4")
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(SentinelError, match="not a readable raster"):
        chip_scene(text, fake_scene.after, None, tmp_path / "c5")
    empty = tmp_path / "empty"
    empty.mkdir()
    grid = utm_grid(512)
    for name in ("b", "a"):
        with scene_writer(empty / f"{name}.tif", grid, ("B02", "B03", "B04", "B08", "B11", "B12")) as w:
            w.write(np.zeros((6, 512, 512), np.uint16))
    with pytest.raises(SentinelError, match="empty or fully clouded"):
        chip_scene(empty / "b.tif", empty / "a.tif", None, tmp_path / "c6")
    assert not any((tmp_path / f"c{i}").exists() for i in range(1, 7))


def test_store_rejects_other_schema(fake_scene: FakeScene, tmp_path: Path) -> None:
    out = tmp_path / "chips"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SentinelError, match="re-run `sentinel chip`"):
        ChipStore(out)
    with pytest.raises(SentinelError, match="no chips found"):
        find_chip_dirs(tmp_path / "raw")


def test_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChipConfig(size=128, overlap=128)
    with pytest.raises(ValueError, match="sum to 1"):
        ChipConfig(split_ratios=(0.5, 0.2, 0.2))
