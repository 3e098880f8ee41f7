"""`region plan`: UTM tiles across a zone border, stable ids, overlap, the Actions matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from shapely.geometry import box, shape

from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.region.geometry import reproject
from planet_sentinel.region.plan import GITHUB_MATRIX_MAX, PlanConfig, RegionPlan, batch_tiles, plan_region
from tests.region.conftest import write_aoi


@pytest.fixture
def across_zones(tmp_path: Path) -> Path:
    """0.6 x 0.4 degrees around 60 W, the border of UTM zones 20 and 21, south of the equator."""
    return write_aoi(tmp_path / "aoi.geojson", -60.3, -10.2, -59.7, -9.8)


def test_an_aoi_across_a_zone_border_gets_tiles_of_both_zones_cut_at_the_meridian(across_zones: Path) -> None:
    plan = plan_region(across_zones, PlanConfig(tile_km=20, margin_m=1280))
    west = [t for t in plan.tiles if shape(t.core).bounds[2] <= -60 + 1e-9]
    east = [t for t in plan.tiles if shape(t.core).bounds[0] >= -60 - 1e-9]
    assert west and east and len(west) + len(east) == len(plan.tiles)
    assert {t.epsg for t in west} == {32720} and {t.epsg for t in east} == {32721}
    assert all(t.id.startswith("20S_20km_") for t in west) and all(t.id.startswith("21S_20km_") for t in east)
    assert any(t.cut for t in west) and any(t.cut for t in east)  # the cells on the border are cut
    # the cores cover the AOI once: their areas add up to the union's, no two overlap
    cores = [shape(t.core) for t in plan.tiles]
    aoi = box(-60.3, -10.2, -59.7, -9.8)
    assert sum(c.area for c in cores) == pytest.approx(shape(_union(cores)).area, rel=1e-6)
    assert _union(cores).contains(aoi.buffer(-1e-6))


def _union(cores: list[Any]) -> Any:
    from shapely import unary_union

    return unary_union(cores)


def test_ids_are_stable_and_each_tile_reads_its_cell_grown_by_the_margin(across_zones: Path, tmp_path: Path) -> None:
    cfg = PlanConfig(tile_km=20, margin_m=1280)
    first, again = plan_region(across_zones, cfg), plan_region(across_zones, cfg)
    assert [t.id for t in first.tiles] == [t.id for t in again.tiles] == sorted(t.id for t in first.tiles)
    assert first.to_dict() == again.to_dict()
    tile = first.tiles[0]
    left, bottom, right, top = tile.bounds
    assert right - left == top - bottom == 20_000 and left % 20_000 == 0 and bottom % 20_000 == 0
    assert tile.read_bounds == (left - 1280, bottom - 1280, right + 1280, top + 1280)
    assert tile.read_size(10) == (2256, 2256)
    # neighbours' read areas overlap by twice the margin
    neighbour = next(t for t in first.tiles if t.epsg == tile.epsg and t.col == tile.col and t.row == tile.row + 1)
    assert tile.read_bounds[3] - neighbour.read_bounds[1] == 2 * 1280
    # the lon/lat box of the read area holds the core
    assert box(*tile.bbox).contains(shape(tile.core))
    # the plan round-trips through its file
    path = first.save(tmp_path / "plan.json")
    assert RegionPlan.load(path) == first


def test_only_tiles_that_meet_the_aoi(tmp_path: Path) -> None:
    """An L-shaped AOI over three 10 km cells of zone 20 S: the cell in the notch of the L is not planned."""
    bottom = box(500_000, 8_900_000, 520_000, 8_910_000)  # cells (50, 890) and (51, 890)
    left = box(500_000, 8_910_000, 510_000, 8_920_000)  # cell (50, 891)
    lonlat = reproject(bottom.union(left).buffer(-100, join_style="mitre"), "EPSG:32720", "EPSG:4326")
    path = tmp_path / "l.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [list(map(list, lonlat.exterior.coords))]}))
    plan = plan_region(path, PlanConfig(tile_km=10, margin_m=0))
    assert {(t.col, t.row) for t in plan.tiles} == {(50, 890), (51, 890), (50, 891)}


def test_more_tiles_than_a_matrix_holds_are_batched_into_at_most_256_jobs() -> None:
    ids = [f"t{i:04d}" for i in range(600)]
    batches = batch_tiles(ids)
    assert len(batches) <= GITHUB_MATRIX_MAX and len(batches) == 200  # 3 tiles a job
    assert [t for b in batches for t in b.tiles] == ids  # every tile once, in order
    assert len(batch_tiles(ids[:256])) == 256 and {len(b.tiles) for b in batch_tiles(ids[:256])} == {1}
    assert len(batch_tiles(ids[:257])) == 129
    assert batches[0].batch == "b000" and batches[-1].batch == "b199"


def test_the_cli_writes_the_plan_the_matrix_and_github_output(across_zones: Path, tmp_path: Path) -> None:
    out, gh = tmp_path / "plan.json", tmp_path / "github_output"
    args = ["region", "plan", "--aoi", str(across_zones), "--tile-km", "20", "--max-jobs", "4"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--github-output", str(gh), "--json"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    plan = RegionPlan.load(out)
    assert line["tiles"] == len(plan.tiles) == 18 and line["jobs"] == 4 and line["epsg"] == [32720, 32721]
    matrix = json.loads((tmp_path / "plan.matrix.json").read_text())
    assert sum(len(job["tiles"].split()) for job in matrix["include"]) == 18
    lines = gh.read_text().splitlines()
    assert lines[0].startswith("matrix=") and json.loads(lines[0].removeprefix("matrix=")) == matrix
    assert "tiles=18" in lines and "jobs=4" in lines


def test_bad_parameters_are_refused_with_the_reason(across_zones: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole number of 10 m pixels"):
        PlanConfig(tile_km=20, margin_m=1285)
    result = CliRunner().invoke(
        cli, ["region", "plan", "--aoi", str(across_zones), "--max-jobs", "300", "--out", str(tmp_path / "p.json")]
    )
    assert result.exit_code != 0 and "max_jobs" in result.output
    polar = write_aoi(tmp_path / "polar.geojson", 10, 83, 11, 85)
    with pytest.raises(SentinelError, match="UTM tiles cover"):
        plan_region(polar)
