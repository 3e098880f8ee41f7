"""`sentinel region tiles`: a matrix job's tiles through the Earth Engine emulator (the real client),
on each tile's own grid, with one retry; a tile that fails twice leaves its reason, the others go on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner
from shapely.geometry import box

from planet_sentinel.cli import cli
from planet_sentinel.region.geometry import reproject
from planet_sentinel.region.job import write_tile_aoi
from planet_sentinel.region.period import last_whole_month, resolve_period
from planet_sentinel.region.plan import PlanConfig, plan_region
from planet_sentinel.region.tiles import read_tiles
from planet_sentinel.sources.gee import IngestConfig, make_plan
from tools.emulators.earthengine import EarthEngineEmulator, Faults

#: A corner of the 1.28 km tile grid inside the emulator's 512 px scene (EPSG:32720, origin 513880, 8908210).
CORNER = (517_120.0, 8_906_240.0)


def corner_aoi(path: Path) -> Path:
    """An AOI of 400 m around a tile corner: four 1.28 km tiles, each read (with 160 m) inside the scene."""
    x, y = CORNER
    lonlat = reproject(box(x - 200, y - 200, x + 200, y + 200), "EPSG:32720", "EPSG:4326")
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": lonlat.__geo_interface__}))
    return path


def test_a_tile_aoi_gives_the_ingest_exactly_the_tile_read_grid(tmp_path: Path) -> None:
    plan = plan_region(corner_aoi(tmp_path / "aoi.geojson"), PlanConfig(tile_km=1.28, margin_m=160))
    assert len(plan.tiles) == 4
    for tile in plan.tiles:
        aoi = write_tile_aoi(tile, tmp_path / f"{tile.id}.geojson")
        from planet_sentinel.aoi import load_aoi

        config = IngestConfig(aoi=str(aoi), name="t", crs=tile.crs, after=(dt.date(2024, 1, 1), dt.date(2024, 1, 31)))
        grid = make_plan(load_aoi(aoi), config).grid
        assert grid.crs.to_string() == tile.crs and grid.bounds == pytest.approx(tile.read_bounds, abs=1e-6)
        assert (grid.width, grid.height) == tile.read_size(10) == (160, 160)


def test_period_is_given_or_the_last_whole_month() -> None:
    assert last_whole_month(dt.date(2024, 3, 1)) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert resolve_period(None, None, dt.date(2025, 1, 15)) == ("2024-12-01", "2024-12-31")
    assert resolve_period("2024-05-01", "2024-05-31", dt.date(2025, 1, 1)) == ("2024-05-01", "2024-05-31")
    for start, end, message in (("2024-05-01", None, "both"), ("2024-06-01", "2024-05-01", "before it starts")):
        with pytest.raises(Exception, match=message):
            resolve_period(start, end, dt.date(2025, 1, 1))


def test_tiles_are_retried_once_and_a_failed_tile_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.bench.predict import demo_bundle
    from tools.bench.region import contrasted

    plan = plan_region(corner_aoi(tmp_path / "aoi.geojson"), PlanConfig(tile_km=1.28, margin_m=160))
    plan_path = plan.save(tmp_path / "plan.json")
    retried, failing = plan.tiles[0], plan.tiles[1]
    faults = Faults(
        failing_tiles={
            ("before", retried.read_bounds[0], retried.read_bounds[3]): 1,  # the first attempt fails
            ("before", failing.read_bounds[0], failing.read_bounds[3]): 2,  # both attempts fail
        }
    )
    model = contrasted(demo_bundle(4)).save(tmp_path / "model.pt")
    with EarthEngineEmulator(tmp_path / "ee", size=512, seed=3, faults=faults) as emulator:
        for key, value in {**emulator.environ(), "SENTINEL_INGEST_RETRIES": "0"}.items():
            monkeypatch.setenv(key, value)
        args = ["region", "tiles", "--plan", str(plan_path), "--tiles", f"{retried.id} {failing.id}"]
        args += ["--period", "2024-01-01", "2024-01-31", "--model", str(model), "--project", "emulated-project"]
        result = CliRunner().invoke(
            cli, [*args, "--out", str(tmp_path / "out"), "--scenes", str(tmp_path / "s"), "--json"]
        )
        requests = emulator.pixel_requests(status=None)
    assert result.exit_code == 1, result.output  # a tile failed: the job is red, its reason recorded
    summary = json.loads(result.output.splitlines()[-1])
    runs = {r["tile"]: r for r in summary["runs"]}
    assert runs[retried.id] == {**runs[retried.id], "status": "ok", "attempts": 2}
    assert runs[failing.id] == {**runs[failing.id], "status": "failed", "attempts": 2}
    assert summary["recovered"] == 1 and summary["failed"] == 1
    assert sum(r["status"] == 500 for r in requests) == 3 and not (tmp_path / "s").exists()

    with rasterio.open(tmp_path / "out" / retried.id / f"{retried.id}_probability.tif") as probability:
        assert probability.crs.to_string() == retried.crs
        assert tuple(probability.bounds) == pytest.approx(retried.read_bounds)
    outputs = {o.tile: o for o in read_tiles([retried.id, failing.id], tmp_path / "out")}
    assert outputs[retried.id].status == "ok" and outputs[retried.id].alerts is not None
    reason = outputs[failing.id].reason or ""
    assert outputs[failing.id].status == "failed" and "attempt 1:" in reason and "attempt 2:" in reason
    assert "500" in reason or "internal error" in reason.lower()
