"""Ingest settings, the plan (grid, tiles, route) and bad input, all without a network."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planet_sentinel.aoi import aoi_from_geometry
from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.sources.gee import IngestConfig, make_plan
from planet_sentinel.sources.gee.config import REQUEST_LIMIT_BYTES, ExportTarget, default_windows, utc_today
from planet_sentinel.sources.gee.plan import max_tile_px

WINDOWS = {"before": ("2024-01-01", "2024-01-31"), "after": ("2024-11-01", "2024-11-30")}


def square(lon: float = -62.85, lat: float = -9.9, half_deg: float = 0.01) -> dict[str, Any]:
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def write_aoi(path: Path, geometry: dict[str, Any], **extra: Any) -> Path:
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": geometry, **extra}))
    return path


def config(aoi: Path | str = "aoi.geojson", **overrides: Any) -> IngestConfig:
    return IngestConfig(project="p-test", aoi=str(aoi), name="x", **WINDOWS, **overrides)


def aoi_of(geometry: dict[str, Any]) -> Any:
    from shapely.geometry import shape

    return aoi_from_geometry(shape(geometry))


def test_plan_grid_is_utm_aligned_and_tiles_cover_it_exactly() -> None:
    aoi = aoi_of(square(half_deg=0.02))
    plan = make_plan(aoi, config(tile_px=128))
    g = plan.grid
    assert g.crs.to_string() == "EPSG:32720"
    assert g.transform.c % 10 == 0 and g.transform.f % 10 == 0 and g.transform.a == 10
    covered = sum(t.width * t.height for t in plan.tiles)
    assert covered == g.width * g.height
    assert max(t.width for t in plan.tiles) == 128
    assert plan.requests == 3 * len(plan.tiles) and len(plan.tiles) > 4
    assert plan.total_bytes == g.width * g.height * (6 * 2 * 2 + 1)
    # A tile's grid is the plan grid shifted to the tile corner, same pixels.
    last = plan.tiles[-1]
    tg = last.grid(g)
    assert (tg.transform.c - g.transform.c) / 10 == last.col_off
    assert (g.transform.f - tg.transform.f) / 10 == last.row_off


def test_default_tiles_stay_under_the_request_limit() -> None:
    for nbands in (1, 6, 13):
        side = max_tile_px(nbands, REQUEST_LIMIT_BYTES)
        assert side * side * nbands * 2 < REQUEST_LIMIT_BYTES
    with pytest.raises(SentinelError, match="48 MiB request limit"):
        make_plan(aoi_of(square()), config(tile_px=4096))


def test_route_choice_and_reasons() -> None:
    small = aoi_of(square())
    assert make_plan(small, config()).route == "direct"
    plan = make_plan(small, config(export="gcs:my-bucket/runs/x"))
    assert plan.route == "gcs" and "gs://my-bucket/runs/x" in plan.reason
    big = aoi_of(square(half_deg=0.3))  # ~4,400 km2
    with pytest.raises(SentinelError, match="too large for direct download.*--export gcs"):
        make_plan(big, config())
    assert make_plan(big, config(export="drive:ee-exports")).route == "drive"
    huge = aoi_of(square(half_deg=3.0))
    with pytest.raises(SentinelError, match="split it"):
        make_plan(huge, config(export="gcs:b-ucket/p"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"after": ("2024-01-15", "2024-02-15")}, "after window starts .* before the before window ends"),
        ({"before": ("2024-01-31", "2024-01-01")}, "ends .* before it starts"),
        ({"export": "s3:bucket"}, "expected gcs:BUCKET/PREFIX or drive:FOLDER"),
        ({"export": "gcs:Bad_Bucket!"}, "not a valid Cloud Storage bucket"),
        ({"bands": ["B02", "B99"]}, "unknown Sentinel-2 band"),
        ({"cloud_threshold": 1.5}, "less than or equal to 1"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    values = {"project": "p", "aoi": "a.geojson", "name": "x", **WINDOWS, **overrides}
    with pytest.raises(ValueError, match=message):
        IngestConfig(**values)


def test_bands_and_windows_accept_text() -> None:
    cfg = IngestConfig(aoi="a", name="x", before="2024-01-01,2024-01-31", after="2024-03-01/2024-03-31", bands="b2,B8a")
    assert cfg.bands == ("B02", "B8A")
    assert str(cfg.after[0]) == "2024-03-01"
    assert ExportTarget.parse("gcs:bucket-1").prefix == ""


@pytest.mark.parametrize(
    ("today", "before", "after"),
    [
        # The rule the pipeline workflow computed with `date -u -d '60 days ago'` / '425 days ago' /
        # '365 days ago' (the expected dates are GNU date's), now IngestConfig's default.
        ("2026-03-01", ("2024-12-31", "2025-03-01"), ("2025-12-31", "2026-03-01")),
        ("2024-03-01", ("2023-01-01", "2023-03-02"), ("2024-01-01", "2024-03-01")),  # across a 29 February
    ],
)
def test_default_windows_count_back_from_today(today: str, before: tuple[str, str], after: tuple[str, str]) -> None:
    windows = default_windows(dt.date.fromisoformat(today))
    assert windows == tuple(tuple(dt.date.fromisoformat(d) for d in w) for w in (before, after))


def test_windows_left_out_take_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = utc_today()
    cfg = IngestConfig(aoi="a", name="x")
    assert (cfg.before, cfg.after) in {default_windows(first), default_windows(utc_today())}  # midnight-proof
    # Only the after window given: the before window is the same dates 365 days earlier.
    cfg = IngestConfig(aoi="a", name="x", after=("2024-06-01", "2024-08-31"))
    assert cfg.before == (dt.date(2023, 6, 2), dt.date(2023, 9, 1))
    with pytest.raises(ValueError, match="the after window ends"):  # not the before window made from it
        IngestConfig(aoi="a", name="x", after=("2024-08-31", "2024-06-01"))
    # The composite action passes empty inputs through; an empty variable is no setting.
    monkeypatch.setenv("SENTINEL_INGEST_BEFORE", "")
    monkeypatch.setenv("SENTINEL_INGEST_AFTER", "2024-06-01,2024-08-31")
    from planet_sentinel.config import resolve

    resolved = resolve(IngestConfig, "ingest", {"aoi": "a", "name": "x"}, params_file=tmp_path / "params.yaml")
    assert resolved.before == cfg.before and resolved.after == cfg.after


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["ingest", "gee", *args], catch_exceptions=False)


def dry(aoi: Path, *extra: str) -> Any:
    return run_cli(
        "--aoi",
        str(aoi),
        "--before",
        *WINDOWS["before"],
        "--after",
        *WINDOWS["after"],
        "--name",
        "x",
        "--dry-run",
        *extra,
    )


def test_dry_run_prints_plan_and_graph(tmp_path: Path) -> None:
    aoi = write_aoi(tmp_path / "aoi.geojson", square())
    result = dry(aoi, "--tile-px", "64", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["dry_run"] is True
    assert out["plan"]["route"] == "direct" and out["plan"]["requests"] == 3 * out["plan"]["tiles_per_output"]
    assert set(out["graph"]) == {"before", "after", "mask", "metadata"}
    assert len(out["graph_hash"]) == 64
    text = dry(aoi, "--label", "none")
    assert text.exit_code == 0
    assert "route direct" in text.output and '"functionName": "Image.reproject"' in text.output
    assert "mask" not in json.loads(dry(aoi, "--label", "none", "--json").output)["graph"]
    assert not list(tmp_path.glob("*.tif"))
    assert "windows: before 2024-01-01 to 2024-01-31, after 2024-11-01 to 2024-11-30" in text.output


def test_dry_run_without_windows_shows_the_defaults(tmp_path: Path) -> None:
    aoi = write_aoi(tmp_path / "aoi.geojson", square())
    first = utc_today()
    result = run_cli("--aoi", str(aoi), "--name", "x", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    windows = json.loads(result.output)["windows"]
    expected = [
        {"before": [str(d) for d in b], "after": [str(d) for d in a]}
        for b, a in map(default_windows, {first, utc_today()})
    ]
    assert windows in expected


@pytest.mark.parametrize(
    ("geometry", "extra", "message"),
    [
        ({"type": "Point", "coordinates": [-62.85, -9.9]}, {}, "must be a Polygon or MultiPolygon"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[-62.9, -9.9], [-62.8, -9.8], [-62.8, -9.9], [-62.9, -9.8], [-62.9, -9.9]]],
            },
            {},
            "not a valid polygon: Self-intersection",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[500000, 8900000], [501000, 8900000], [501000, 8901000], [500000, 8900000]]],
            },
            {},
            "wrong CRS",
        ),
        (square(), {"crs": {"type": "name", "properties": {"name": "EPSG:32720"}}}, "must be GeoJSON in EPSG:4326"),
        (square(half_deg=0.4), {}, "too large for direct download"),
    ],
)
def test_bad_aoi_is_a_clean_error(
    tmp_path: Path, geometry: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    aoi = write_aoi(tmp_path / "aoi.geojson", geometry, **extra)
    result = dry(aoi)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_project_and_missing_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aoi = write_aoi(tmp_path / "aoi.geojson", square())
    monkeypatch.delenv("SENTINEL_INGEST_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    args = ["--aoi", str(aoi), "--before", *WINDOWS["before"], "--after", *WINDOWS["after"], "--name", "x"]
    result = run_cli(*args)
    assert result.exit_code == 1 and "no Google Cloud project: pass --project" in result.output
    # Neither a service-account key nor `earthengine authenticate` credentials (nor ADC).
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("EARTHENGINE_SERVICE_ACCOUNT_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server either
    result = run_cli(*args, "--project", "p-test")
    assert result.exit_code == 1
    assert "no Earth Engine credentials: set EARTHENGINE_SERVICE_ACCOUNT_KEY" in result.output
    assert "earthengine authenticate" in result.output
    for bad, message in (("{not json", "not valid JSON"), ('{"type": "authorized_user"}', "not a service-account key")):
        monkeypatch.setenv("EARTHENGINE_SERVICE_ACCOUNT_KEY", bad)
        result = run_cli(*args, "--project", "p-test")
        assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").rglob("*.tif"))
