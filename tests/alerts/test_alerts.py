"""Alerts of a prediction: stable ids, dates, confidence split, areas, the three file formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import fiona
import pytest
from click.testing import CliRunner
from shapely.geometry import shape

from planet_sentinel.alerts import AlertCollection, alert_id
from planet_sentinel.alerts.stage import NO_HIGH_THRESHOLD, AlertsRequest, run_alerts
from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict import ModelInfo
from tests.alerts.fakes import write_prediction

#: 10 x 10 px at 95 % (1 ha, high) and 10 x 20 px at 60 % (2 ha, nominal).
BLOCKS = [(5, 15, 5, 15, 95), (30, 40, 30, 50, 60)]


def test_alert_id_is_the_rounded_centroid_and_the_period() -> None:
    a = alert_id(-63.00001, -9.95, "2024-01-31", "2024-03-31")
    assert a.startswith("PS-") and len(a) == 19
    assert alert_id(-63.00004, -9.95002, "2024-01-31", "2024-03-31") == a  # same place to ~10 m
    assert alert_id(-63.0002, -9.95, "2024-01-31", "2024-03-31") != a
    assert alert_id(-63.00001, -9.95, "2024-01-31", "2024-04-30") != a
    assert alert_id(-0.00001, 0.0, "2024-01-31", "2024-03-31") == alert_id(0.0, 0.0, "2024-01-31", "2024-03-31")
    with pytest.raises(ValueError, match="not an ISO date"):
        alert_id(0, 0, "31/01/2024", "2024-03-31")


def test_alerts_carry_dates_confidence_area_and_open_in_every_format(tmp_path: Path) -> None:
    fake = write_prediction(tmp_path / "pred", BLOCKS)
    done = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "out", high_threshold=0.9))
    props = sorted((a.properties for a in done.alerts), key=lambda p: p.area_ha)
    assert [(p.area_ha, p.confidence, p.max_probability) for p in props] == [(1.0, "high", 0.95), (2.0, "nominal", 0.6)]
    assert {(p.observed_after, p.observed_before, p.status, p.tile_id) for p in props} == {
        ("2024-01-31", "2024-03-31", "new", "scene")
    }
    assert {(p.model_name, p.model_version, p.run_id) for p in props} == {("planet-sentinel", "7", "run-1")}
    for p in props:  # the id is the function of the centroid and period the region merge uses too
        assert p.id == alert_id(p.lon, p.lat, p.observed_after, p.observed_before)
        assert -63.1 < p.lon < -62.9 and -10.0 < p.lat < -9.9  # EPSG:32720 near 500 km E, 8900 km N
    geojson = json.loads(done.paths["geojson"].read_text())
    assert geojson["type"] == "FeatureCollection" and len(geojson["features"]) == 2
    for feature in geojson["features"]:
        assert shape(feature["geometry"]).exterior.is_ccw  # RFC 7946 right-hand rule
    assert len(AlertCollection.load(done.paths["geojson"]).features) == 2
    with fiona.open(done.paths["fgb"]) as layer:
        assert layer.crs.to_epsg() == 4326
        assert sorted(f.properties["id"] for f in layer) == sorted(p.id for p in props)
    with done.paths["csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(float(r["area_ha"]) for r in rows) == [1.0, 2.0]
    assert {r["confidence"] for r in rows} == {"high", "nominal"}


def test_a_rerun_gives_the_same_ids_and_bytes(tmp_path: Path) -> None:
    fake = write_prediction(tmp_path / "pred", BLOCKS)
    first = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "a", high_threshold=0.9))
    second = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "b", high_threshold=0.9))
    for fmt in ("geojson", "csv"):
        assert first.paths[fmt].read_bytes() == second.paths[fmt].read_bytes()


def test_without_high_threshold_every_alert_is_nominal_and_a_note_says_so(tmp_path: Path) -> None:
    fake = write_prediction(tmp_path / "pred", BLOCKS)
    done = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "out"))
    assert {a.properties.confidence for a in done.alerts} == {"nominal"}
    assert done.notes == (NO_HIGH_THRESHOLD,)


@pytest.mark.skipif("high_threshold" not in ModelInfo.model_fields, reason="ModelInfo.high_threshold lands with #14")
def test_the_models_high_threshold_in_the_summary_splits_confidence(tmp_path: Path) -> None:
    fake = write_prediction(tmp_path / "pred", BLOCKS, high_threshold=0.6)
    done = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "out"))
    assert {a.properties.confidence for a in done.alerts} == {"high"} and done.notes == ()


def test_a_scene_without_dates_is_refused_naming_file_and_tag_or_dated_by_flags(tmp_path: Path) -> None:
    fake = write_prediction(tmp_path / "pred", BLOCKS, dates=(None, "2024-03-31"))
    with pytest.raises(
        SentinelError, match=r"tile_before\.tif: no acquisition date \(tags ACQUISITION_DATE.*--observed-after"
    ):
        run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "out"))
    done = run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp_path / "out", observed_after="2024-02-01"))
    assert {a.properties.observed_after for a in done.alerts} == {"2024-02-01"}


def test_cli_writes_the_files_and_refuses_a_folder_without_a_prediction(tmp_path: Path) -> None:
    write_prediction(tmp_path / "pred", BLOCKS)
    runner = CliRunner()
    ok = runner.invoke(cli, ["alerts", "--prediction", str(tmp_path / "pred"), "--tile-id", "T1", "--json"])
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.output.strip().splitlines()[-1])
    assert result["alerts"] == 2 and Path(result["fgb"]).is_file()
    assert {f["properties"]["tile_id"] for f in json.loads(Path(result["geojson"]).read_text())["features"]} == {"T1"}
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(cli, ["alerts", "--prediction", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "holds no *_prediction.json" in bad.output
