"""`sentinel ingest gee` end to end through the Earth Engine emulator, with the real client.

The client authenticates with a freshly generated service-account key against the emulator's
token endpoint, fetches the discovery document and algorithms, and sends real computePixels,
value.compute, export and operations requests over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from planet_sentinel.cli import cli
from planet_sentinel.raster import Grid
from planet_sentinel.sources.gee import IngestConfig, make_plan
from tools.emulators.earthengine import EarthEngineEmulator, Faults

WINDOWS = ["--before", "2024-01-01", "2024-01-31", "--after", "2024-11-01", "2024-11-30"]
#: Scene pixels the AOI covers: about 3.4 x 2.6 km, 8 x 6 tiles of 48 px per output.
AOI_PIXELS = (60, 50, 400, 310)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ee-scene")


@pytest.fixture
def emulator(scene_dir: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    faults = getattr(request, "param", None) or Faults()
    with EarthEngineEmulator(scene_dir, size=512, seed=3, faults=faults) as emu:
        for key, value in emu.environ().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SENTINEL_QUIET", "1")
        monkeypatch.setenv("SENTINEL_INGEST_BACKOFF_S", "0.01")
        monkeypatch.setenv("SENTINEL_INGEST_POLL_S", "0")
        yield emu


@pytest.fixture
def aoi(tmp_path: Path, emulator: EarthEngineEmulator) -> Path:
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps(emulator.aoi(*AOI_PIXELS)))
    return path


def ingest(aoi: Path, out: Path, *extra: str) -> Any:
    args = ["ingest", "gee", "--project", "emulated-project", "--aoi", str(aoi), *WINDOWS, "--name", "x"]
    return CliRunner().invoke(cli, [*args, "--out-dir", str(out), "--json", *extra])


def ingested(aoi: Path, out: Path, *extra: str) -> Any:
    """`ingest` that must succeed: its --json summary."""
    result = ingest(aoi, out, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def plan_for(aoi: Path, tile_px: int) -> Any:
    from planet_sentinel.aoi import load_aoi

    cfg = IngestConfig(project="p", aoi=str(aoi), name="x", before=WINDOWS[1:3], after=WINDOWS[4:6], tile_px=tile_px)
    return make_plan(load_aoi(aoi), cfg)


def assert_equals_source(
    out: Path, emulator: EarthEngineEmulator, roles: tuple[str, ...] = ("before", "after", "mask")
) -> Grid:
    grids = []
    for role in roles:
        with rasterio.open(out / f"x_{role}.tif") as ds:
            grid = Grid.of(ds)
            np.testing.assert_array_equal(ds.read(), emulator.expected(role, grid), err_msg=role)
            assert ds.crs.to_string() == "EPSG:32720"
            if role != "mask":
                assert ds.descriptions == ("B02", "B03", "B04", "B08", "B11", "B12") and ds.nodata == 0
        grids.append(grid)
    assert all(not grids[0].differences(g) for g in grids[1:]), "before, after and mask share one grid"
    return grids[0]


def test_ingest_many_tiles_equals_source_and_feeds_chip(
    aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator
) -> None:
    out = tmp_path / "raw"
    summary = ingested(aoi, out, "--tile-px", "48")
    plan = plan_for(aoi, 48)
    assert len(plan.tiles) >= 40
    assert summary["requests"] == 3 * len(plan.tiles) and summary["tiles_reused"] == 0
    grid = assert_equals_source(out, emulator)
    assert not grid.differences(plan.grid)
    pixel_calls = emulator.pixel_requests()
    assert len(pixel_calls) == 3 * len(plan.tiles)
    assert {e["role"] for e in pixel_calls} == {"before", "after", "mask"}
    assert max(e["width"] for e in pixel_calls) == 48
    methods = Counter(e["method"] for e in emulator.log)
    assert methods["token"] == 1 and methods["algorithms.list"] == 1 and methods["value.compute"] == 1
    record = json.loads((out / "x_ingest.json").read_text())
    assert record["windows"]["before"]["images"] == 6 and record["windows"]["after"]["dates"][0] == "2024-11-03"
    assert record["graph_hash"] == summary["graph_hash"] and record["datasets"]["hansen"].startswith("UMD/hansen/")
    assert not (out / ".ingest-cache").exists()
    # The chip stage consumes the scene contract as written.
    scene = [f"--{role}={out / f'x_{role}.tif'}" for role in ("before", "after", "mask")]
    chips = CliRunner().invoke(
        cli, ["chip", *scene, "--out-dir", str(tmp_path / "chips"), "--size", "64", "--split-block", "64", "--json"]
    )
    assert chips.exit_code == 0, chips.output
    manifest = json.loads((tmp_path / "chips" / "manifest.json").read_text())
    assert manifest["labelled"] is True and "32720" in json.dumps(manifest["scene"]) and len(manifest["chips"]) > 5
    # Outputs are not replaced without --overwrite.
    again = ingest(aoi, out, "--tile-px", "48")
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_real_client_speaks_v1_and_other_versions_are_refused(emulator: EarthEngineEmulator) -> None:
    """The client's default API version (ee/_cloud_api_utils.py VERSION) is the only one served."""
    import ee
    import requests

    from planet_sentinel.sources.gee import auth

    auth.connect("emulated-project")
    with pytest.raises(ee.EEException, match="window metadata only"):  # reached the emulator on v1
        ee.data.computeValue(ee.Number(1))
    api = [e for e in emulator.log if e["method"] not in ("token", "discovery")]
    assert [e["method"] for e in api] == ["algorithms.list", "value.compute"]
    assert all(e["path"].startswith("/v1/projects/emulated-project/") for e in api), api
    token = next(iter(emulator.tokens))
    headers = {"Authorization": f"Bearer {token}"}
    for version in ("v1alpha", "v1beta"):
        old = requests.post(
            f"{emulator.url}/{version}/projects/emulated-project/value:compute", json={}, headers=headers
        )
        assert old.status_code == 404 and "not served" in old.json()["error"]["message"]
        doc = requests.get(f"{emulator.url}/$discovery/rest", params={"version": version})
        assert doc.status_code == 404
    assert requests.get(f"{emulator.url}/$discovery/rest", params={"version": "v1"}).json()["version"] == "v1"


@pytest.mark.parametrize("emulator", [Faults(unscored={"before": 99, "after": 2})], indirect=True)
def test_images_without_cloud_score_plus_fall_back_to_scl(
    aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator
) -> None:
    """No before image and two after images have a Cloud Score+ match: SCL masks them instead."""
    out = tmp_path / "raw"
    ingested(aoi, out, "--tile-px", "256")
    record = json.loads((out / "x_ingest.json").read_text())
    before, after = record["windows"]["before"], record["windows"]["after"]
    assert before["images"] == 6 and before["without_cloud_score_plus"] == 6
    assert after["images"] == 6 and after["without_cloud_score_plus"] == 2
    assert before["clear_share"] > 0.5 and before["clear_observations_mean"] > 3
    assert_equals_source(out, emulator)


@pytest.mark.parametrize("emulator", [Faults(unscored={"before": 99})], indirect=True)
def test_emulator_evaluates_both_if_branches_and_masked_windows(emulator: EarthEngineEmulator) -> None:
    """Graphs sent by the real client: an ``If`` whose untaken branch fails, a window masked out."""
    import ee

    from planet_sentinel.sources.gee import auth
    from tools.emulators.earthengine import CLOUD_SCORE_PLUS, ROLE_PROPERTY, S2_COLLECTION

    auth.connect("emulated-project")
    t = emulator.grid.transform
    grid = {
        "dimensions": {"width": 16, "height": 16},
        "affineTransform": {
            "scaleX": t.a,
            "shearX": 0,
            "translateX": t.c,
            "shearY": 0,
            "scaleY": t.e,
            "translateY": t.f,
        },
        "crsCode": emulator.grid.crs.to_string(),
    }
    s2 = ee.ImageCollection(S2_COLLECTION).filterDate("2024-01-01", "2024-02-01")

    def pixels(collection: Any) -> np.ndarray:
        image = collection.median().set(ROLE_PROPERTY, "before")
        body = {"expression": image, "fileFormat": "GEO_TIFF", "grid": grid, "bandIds": ["B2"]}
        with rasterio.MemoryFile(ee.data.computePixels(body)) as mem, mem.open() as ds:
            return ds.read()

    untaken = s2.map(lambda i: ee.Image(ee.Algorithms.If(True, i.select("B2"), i.select("B99"))))
    with pytest.raises(ee.EEException, match="Pattern 'B99' did not match any bands"):
        pixels(untaken)
    scored_only = s2.linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), ["cs_cdf"])
    masked_out = scored_only.map(lambda i: i.updateMask(i.select("cs_cdf").gte(0.6)).select("B2"))
    assert not pixels(masked_out).any(), "no before image has a score: nothing left, nodata"
    assert pixels(s2.map(lambda i: i.select("B2"))).any()


@pytest.mark.parametrize("emulator", [Faults(rate_limited=3, metadata_rate_limited=2)], indirect=True)
def test_rate_limited_then_success(aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator) -> None:
    ingested(aoi, tmp_path / "raw", "--tile-px", "128", "--workers", "2")
    assert len(emulator.pixel_requests(429)) == 3
    assert [e["status"] for e in emulator.log if e["method"] == "value.compute"] == [429, 429, 200]
    record = json.loads((tmp_path / "raw" / "x_ingest.json").read_text())
    assert record["download"]["rate_limited"] == 3 and record["download"]["retries"] == 3
    assert_equals_source(tmp_path / "raw", emulator)


@pytest.mark.parametrize("emulator", [Faults(metadata_rate_limited=10)], indirect=True)
def test_quota_that_does_not_recover_is_explained(aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator) -> None:
    result = ingest(aoi, tmp_path / "raw", "--retries", "2")
    assert result.exit_code == 1
    assert "after 3 attempt(s) (Earth Engine quota exceeded: wait a few minutes and retry)" in result.output
    assert not emulator.pixel_requests(None)


def test_tile_failing_three_times_is_a_clean_error_and_rerun_resumes(
    aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator
) -> None:
    plan = plan_for(aoi, 96)
    bad = plan.tiles[len(plan.tiles) // 2].grid(plan.grid).transform
    emulator.faults.failing_tiles[("after", bad.c, bad.f)] = 3
    out = tmp_path / "raw"
    first = ingest(aoi, out, "--tile-px", "96", "--retries", "2", "--workers", "2")
    assert first.exit_code == 1
    assert "after tile" in first.output and "failed after 3 attempt(s)" in first.output and "HTTP 500" in first.output
    assert "rerun the same command" in first.output and "Traceback" not in first.output
    assert not list(out.glob("x_*.tif")), "no partial outputs"
    assert list((out / ".ingest-cache").rglob("*.tif")), "finished tiles are kept"
    fetched_first = {(e["role"], e["tile"]) for e in emulator.pixel_requests()}
    second = ingested(aoi, out, "--tile-px", "96", "--retries", "2", "--workers", "2")
    assert second["tiles_reused"] == len(fetched_first)
    successes = Counter((e["role"], e["tile"]) for e in emulator.pixel_requests())
    assert set(successes.values()) == {1}, "no tile fetched twice"
    assert len(successes) == 3 * len(plan.tiles)
    assert_equals_source(out, emulator)


@pytest.mark.parametrize(
    ("emulator", "message"),
    [
        (
            Faults(empty_windows={"after"}),
            "no Sentinel-2 image over the AOI in the after window 2024-11-01..2024-11-30",
        ),
        (Faults(cloudy_windows={"before"}), "before window 2024-01-01..2024-01-31 has 6 image(s)"),
    ],
    indirect=["emulator"],
)
def test_windows_without_clear_images_are_refused(aoi: Path, tmp_path: Path, emulator: Any, message: str) -> None:
    result = ingest(aoi, tmp_path / "raw")
    assert result.exit_code == 1
    assert message in result.output
    assert "widen the" in result.output
    if "cloudy" in message or "has 6" in message:
        assert "--cloud-threshold 0.45" in result.output
    assert not emulator.pixel_requests(None), "nothing downloaded"


@pytest.mark.parametrize("emulator", [Faults(export_split=3, export_polls=3)], indirect=True)
def test_gcs_export_route_polls_downloads_and_mosaics(aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator) -> None:
    out = tmp_path / "raw"
    summary = ingested(aoi, out, "--export", "gcs:sentinel-exports/runs/a")
    assert summary["route"] == "gcs" and set(summary["tasks"]) == {"before", "after", "mask"}
    assert sorted(emulator.buckets["sentinel-exports"])[0].startswith("runs/a/x_after-0000000000-")
    assert len(emulator.buckets["sentinel-exports"]) == 9
    assert Counter(e["method"] for e in emulator.log)["operations.get"] >= 9
    assert not emulator.pixel_requests(None)
    assert_equals_source(out, emulator)


def test_drive_export_route_says_what_to_do_next(aoi: Path, tmp_path: Path, emulator: EarthEngineEmulator) -> None:
    summary = ingested(aoi, tmp_path / "raw", "--export", "drive:ee-exports", "--label", "none")
    assert summary["route"] == "drive" and set(summary["tasks"]) == {"before", "after"}
    assert {(d["role"], d["folder"]) for d in emulator.drive} == {("before", "ee-exports"), ("after", "ee-exports")}
    steps = "\n".join(summary["next_steps"])
    assert "code.earthengine.google.com/tasks" in steps and "x_before.tif x_after.tif" in steps
    assert "sentinel chip --before" in steps
    assert not list((tmp_path / "raw").glob("*.tif"))


@pytest.mark.slow
def test_ingest_bench_prints_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    from tools.bench import ingest as bench

    monkeypatch.setenv("SENTINEL_QUIET", "1")
    bench.run(size=200, workdir=str(tmp_path))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["bench"] == "ingest" and line["grid"].startswith("20"), line
    assert line["requests"] == 3 and line["bare_requests"] == 3 and line["bytes"] == line["bare_bytes"] > 0
    assert line["ratio"] > 0.5 and line["wall_s"] > 0 and set(line["phases_s"]) >= {"connect", "download"}
