"""A small AOI can be trained on: split blocks shrink to fit a scene too small for them (said so in
the output), an explicit --split-block is used as given with the flag to pass instead, and scenes
where the configured block works keep their splits exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel.chips import SPLITS, ChipConfig, ChipStore, chip_scene
from planet_sentinel.cli import cli
from tests.conftest import write_fake_scene


def run(*args: object) -> tuple[int, str]:
    """Exit code and stdout, or the whole output (with stderr's error message) on failure."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_a_new_user_trains_on_a_512_px_scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's steps: simulate 512 px, chip with the defaults (256 px chips, 512 px blocks), baseline."""
    monkeypatch.chdir(tmp_path)  # no params.yaml: the built-in defaults, as for a new user
    code, output = run("simulate", "--name", "small", "--size", "512", "--out-dir", "raw")
    assert code == 0, output
    chip = [
        "chip",
        "--before",
        "raw/small_before.tif",
        "--after",
        "raw/small_after.tif",
        "--mask",
        "raw/small_mask.tif",
    ]
    code, output = run(*chip, "--out-dir", "chips/small", "--json")
    assert code == 0, output
    result = last_json(output)
    assert all(result["counts"][s] > 0 for s in SPLITS), result  # before: val 4, train 0, test 0
    assert "used split blocks of 256 px instead" in result["notes"][0] and "--split-block" in result["notes"][0]
    store = ChipStore("chips/small")
    assert store.manifest.config.split_block == 256 and store.manifest.notes == result["notes"]
    assert {tuple(c.block) for c in store.chips} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    code, output = run("baseline", "--chips-dir", "chips", "--out", "baseline.json", "--json")
    assert code == 0, output
    assert last_json(output)["n_chips"] == result["counts"]["train"]

    # an explicit --split-block is used as given; the note and baseline's error say what to pass
    code, output = run(*chip, "--out-dir", "pinned/small", "--split-block", "512", "--json")
    assert code == 0, output
    result = last_json(output)
    assert result["counts"]["train"] == 0 and "pass --split-block 256" in result["notes"][0]
    code, output = run("baseline", "--chips-dir", "pinned", "--out", "b2.json")
    assert code == 1 and "no chips in split 'train'" in output and "--split-block 256" in output
    assert not Path("b2.json").exists()


def test_scenes_big_enough_keep_their_blocks(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path / "raw", size=1024)
    summary = chip_scene(scene.before, scene.after, scene.mask, tmp_path / "chips", ChipConfig())
    store = ChipStore(summary.out_dir)
    assert store.manifest.config.split_block == 512 and "notes" not in store.manifest.to_dict()
    assert "notes" not in summary.to_dict() and all(summary.counts[s] for s in SPLITS)
    assert all(c.block == [c.row // 512, c.col // 512] for c in store.chips)


def test_overlapping_chips_and_scenes_too_small_to_split(tmp_path: Path) -> None:
    scene = write_fake_scene(tmp_path / "raw", size=512)
    config = ChipConfig(size=128, overlap=32, split_block=512)
    summary = chip_scene(scene.before, scene.after, scene.mask, tmp_path / "overlap", config)
    assert all(summary.counts[s] for s in SPLITS) and "used split blocks of" in summary.notes[0]
    used = ChipStore(summary.out_dir).manifest.config.split_block
    assert 128 <= used < 512 and used % 96 == 0 or used == 128

    tiny = write_fake_scene(tmp_path / "tiny", size=300)  # 256 px chips: four, all in one 256 px block
    summary = chip_scene(tiny.before, tiny.after, tiny.mask, tmp_path / "tiny_chips", ChipConfig(size=256))
    assert summary.counts["kept"] == 4 and sum(summary.counts[s] > 0 for s in SPLITS) == 1
    assert "--size 128 --split-block 128" in summary.notes[0]
    smaller = chip_scene(
        tiny.before, tiny.after, tiny.mask, tmp_path / "tiny_128", ChipConfig(size=128, split_block=128)
    )
    assert all(smaller.counts[s] for s in SPLITS)  # the advice works
