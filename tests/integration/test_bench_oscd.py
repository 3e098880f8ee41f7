"""The OSCD benchmark machinery on three real cities with tiny settings (one epoch, base 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.bench import oscd

CITIES = ("bercy", "bordeaux", "rennes")  # the three smallest development cities
TEST_CITY = "aguasclaras"


def test_leave_cities_out_on_real_cities(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "oscd-dev"
    if not all((data / c).is_dir() for c in (*CITIES, TEST_CITY)):
        pytest.skip(f"OSCD development cities {[*CITIES, TEST_CITY]} not all present under {data}")
    test_dir = tmp_path / "test-cities"  # a second folder of cities, as --test-data takes
    test_dir.mkdir()
    (test_dir / TEST_CITY).symlink_to(data / TEST_CITY)
    settings = oscd.OscdSettings(
        folds=3,
        val_cities=1,
        budget_minutes=10,
        train={"epochs": 1, "base": 4, "depth": 3, "crop": 64, "batch_size": 8, "samples_per_epoch": 8, "threads": 2},
    )
    result = oscd.benchmark(data, tmp_path / "work", test_data=test_dir, settings=settings, cities=CITIES)

    assert result["cities"] == sorted(CITIES)
    assert sorted(result["per_city"]) == sorted(CITIES)  # every city held out exactly once
    for figures in result["per_city"].values():
        assert {"f1", "precision", "recall", "ap", "threshold", "oracle_f1", "baselines_f1"} <= set(figures)
        assert 0 <= figures["f1"] <= 1 and 0 <= figures["ap"] <= 1
        assert set(figures["baselines_f1"]) == {"cva_otsu", "ndvi_otsu", "ndvi_tuned"}
    assert 0 <= result["overall"]["f1"] <= 1 and result["overall"]["ap"] is not None
    assert set(result["thresholds"]) == {"fold1", "fold2", "fold3", "final"}
    assert result["reference"]["f1"] == 48.86 and "differs" in result["reference"]["split"]
    assert result["ratio_to_reference"] == pytest.approx(result["overall"]["f1"] / 0.4886, abs=1e-3)
    assert sorted(result["test"]["per_city"]) == [TEST_CITY]

    details = json.loads(Path(result["results_json"]).read_text())["folds_detail"]
    assert Path(result["png"]).stat().st_size > 0
    for fold in details:
        seen = oscd.chip_root_cities(Path(fold["chip_root"]))
        assert seen.get("train") == set(fold["train"]) and seen.get("val") == set(fold["val"])
        assert not set(fold["held_out"]) & (seen["train"] | seen["val"])
        assert not set(fold["val"]) & set(fold["train"])
    assert TEST_CITY not in set().union(*(set(f["train"]) | set(f["val"]) for f in details))

    line = oscd.summary_line(result)
    json.dumps(line)
    assert {
        "per_city",
        "overall_f1",
        "overall_ap",
        "baselines",
        "thresholds",
        "minutes",
        "reference_f1",
        "ratio_overall_f1_to_reference",
        "test",
    } <= set(line)
