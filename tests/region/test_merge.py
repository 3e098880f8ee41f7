"""`region merge`: alerts cut at a tile border become one, failed and missing tiles are listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import box

from planet_sentinel.alerts.model import AlertCollection
from planet_sentinel.region.merge import merge_region
from planet_sentinel.region.plan import RegionPlan
from tests.region.conftest import alert, write_alerts


def test_a_polygon_split_at_a_border_is_one_alert_with_the_whole_area(
    two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    plan, plan_path = two_tile_plan
    west, east = plan.tiles
    assert [t.col for t in plan.tiles] == [500, 501] and west.epsg == east.epsg == 32720
    border = west.bounds[2]  # 501000 m
    crs = west.crs
    clearing = box(border - 200, 8_900_400, border + 300, 8_900_600)  # 500 m x 200 m = 10 ha
    tiles = tmp_path / "tiles"
    # each tile saw the clearing up to the end of its margin (100 m past the border)
    write_alerts(tiles, west.id, [alert(clearing.intersection(box(*west.read_bounds)), crs, west.id)])
    write_alerts(tiles, east.id, [alert(clearing.intersection(box(*east.read_bounds)), crs, east.id, probability=0.95)])
    summary = merge_region(plan_path, tiles, tmp_path / "out")
    merged = AlertCollection.load(tmp_path / "out" / "region_alerts.geojson").features
    assert len(merged) == 1 and summary.totals.alerts == 1 and summary.totals.dissolved == 1
    props = merged[0].properties
    assert props.area_ha == pytest.approx(10.0, abs=0.01)  # not 6 + 4, nor with the margins twice (12 ha)
    assert props.confidence == "high" and props.max_probability == 0.95
    assert props.tile_id == east.id  # the tile that holds most of it (6 of the 10 ha)
    assert summary.complete and [s.status for s in summary.tiles] == ["ok", "ok"]
    rows = (tmp_path / "out" / "region_alerts.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(props.id) and (tmp_path / "out" / "region_alerts.fgb").is_file()


def test_polygons_touching_only_at_a_corner_across_a_border_stay_two(
    two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    plan, plan_path = two_tile_plan
    west, east = plan.tiles
    border = west.bounds[2]
    tiles = tmp_path / "tiles"
    write_alerts(tiles, west.id, [alert(box(border - 100, 8_900_400, border, 8_900_500), west.crs, west.id)])
    write_alerts(tiles, east.id, [alert(box(border, 8_900_500, border + 100, 8_900_600), east.crs, east.id)])
    summary = merge_region(plan_path, tiles, tmp_path / "out")
    assert summary.totals.alerts == 2 and summary.totals.dissolved == 0
    assert summary.totals.area_ha == pytest.approx(2.0, abs=0.01)


def test_a_failed_and_a_missing_tile_are_listed_as_failed(
    two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    plan, plan_path = two_tile_plan
    west, east = plan.tiles
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    (tiles / f"{west.id}_failed.txt").write_text("ingest: Earth Engine answered 429 five times\n")
    summary = merge_region(plan_path, tiles, tmp_path / "out")
    by_tile = {s.tile: s for s in summary.tiles}
    assert by_tile[west.id].status == "failed" and "429" in (by_tile[west.id].reason or "")
    assert by_tile[east.id].status == "missing" and f"{east.id}_alerts.geojson" in (by_tile[east.id].reason or "")
    assert not summary.complete and summary.totals.failed == 2 and summary.totals.ok == 0
    written = json.loads((tmp_path / "out" / "region_summary.json").read_text())
    assert [t["status"] for t in written["tiles"]] == ["failed", "missing"]


def test_an_unreadable_tile_file_is_failed_with_the_reason(
    two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path
) -> None:
    plan, plan_path = two_tile_plan
    west, east = plan.tiles
    tiles = tmp_path / "tiles"
    write_alerts(tiles, east.id, [])
    (tiles / f"{west.id}_alerts.geojson").write_text("{not json")
    summary = merge_region(plan_path, tiles, tmp_path / "out")
    status = {s.tile: s for s in summary.tiles}
    assert status[west.id].status == "failed" and "not JSON" in (status[west.id].reason or "")
    assert status[east.id].status == "ok" and summary.totals.alerts == 0
