"""`sentinel plots check`: verdicts, areas, alerts inside, and every bad plot named while the others are checked."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping, shape

from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.plots import PlotsRequest, run_plots_check
from planet_sentinel.raster import Grid
from tests.alerts.fakes import FakePrediction, write_prediction


def _cells(grid: Grid, r0: int, r1: int, c0: int, c1: int) -> dict[str, Any]:
    """A WGS 84 polygon over pixel rows r0..r1, columns c0..c1 of ``grid``."""
    x0, y0 = grid.transform.c + c0 * 10, grid.transform.f - r0 * 10
    return dict(transform_geom(grid.crs, "EPSG:4326", mapping(box(x0, y0 - (r1 - r0) * 10, x0 + (c1 - c0) * 10, y0))))


def _centre(grid: Grid, row: int, col: int) -> list[float]:
    """The WGS 84 [lon, lat] of pixel (row, col)'s centre."""
    point = shape(_cells(grid, row, row + 1, col, col + 1)).centroid
    return [point.x, point.y]


def _feature(plot_id: str, geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"plot_id": plot_id, **properties}, "geometry": geometry}


@pytest.fixture(scope="module")
def prediction(tmp_path_factory: pytest.TempPathFactory) -> FakePrediction:
    """Loss over rows/cols 5..15 (1 ha at 95 %), unknown over rows/cols 40..60."""
    return write_prediction(tmp_path_factory.mktemp("plots") / "pred", [(5, 15, 5, 15, 95)], unknown=(40, 60, 40, 60))


def _write(tmp_path: Path, features: list[dict[str, Any]]) -> Path:
    path = tmp_path / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_verdicts_areas_and_alerts_inside(prediction: FakePrediction, tmp_path: Path) -> None:
    g = prediction.grid
    plots = _write(
        tmp_path,
        [
            _feature("loss", _cells(g, 0, 20, 0, 20)),
            _feature("clear", _cells(g, 20, 30, 20, 30)),
            _feature("cloudy", _cells(g, 40, 60, 40, 60)),
            _feature("small-point", {"type": "Point", "coordinates": _centre(g, 25, 25)}, Area=0.5),
            _feature("big-point", {"type": "Point", "coordinates": _centre(g, 25, 40)}, area_ha=5),
        ],
    )
    report = run_plots_check(PlotsRequest(plots=plots, summary=prediction.summary, out_dir=tmp_path / "out"))
    with report.paths["csv"].open() as handle:
        rows = {r["plot_id"]: r for r in csv.DictReader(handle)}
    assert {k: r["verdict"] for k, r in rows.items()} == {
        "loss": "loss detected",
        "clear": "no loss detected",
        "cloudy": "unknown: clouds",
        "small-point": "no loss detected",
        "big-point": "no loss detected",
    }
    loss = rows["loss"]
    assert (float(loss["area_ha"]), float(loss["loss_ha"]), float(loss["loss_share"])) == (4.0, 1.0, 0.25)
    assert loss["alert_ids"].startswith("PS-") and rows["clear"]["alert_ids"] == ""
    assert float(rows["cloudy"]["unknown_share"]) == 1.0
    assert float(rows["small-point"]["area_ha"]) == pytest.approx(0.5, abs=0.001)  # a circle of its area
    assert "EUDR asks for a polygon" in rows["big-point"]["notes"]
    features = json.loads(report.paths["geojson"].read_text())["features"]
    assert [f["geometry"]["type"] for f in features][-1] == "Polygon"  # the circle that was checked
    assert features[0]["properties"]["verdict"] == "loss detected"


def test_each_bad_plot_is_named_and_the_others_checked(prediction: FakePrediction, tmp_path: Path) -> None:
    g = prediction.grid
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[-63.0, -9.95], [-62.99, -9.94], [-62.99, -9.95], [-63.0, -9.94], [-63.0, -9.95]]],
    }
    far = {
        "type": "Polygon",
        "coordinates": [[[10.0, 10.0], [10.01, 10.0], [10.01, 10.01], [10.0, 10.01], [10.0, 10.0]]],
    }
    plots = _write(
        tmp_path,
        [
            _feature("good", _cells(g, 20, 30, 20, 30)),
            _feature("bowtie", bowtie),
            _feature("no-area", {"type": "Point", "coordinates": _centre(g, 25, 25)}),
            _feature("far", far),
            _feature("twice", _cells(g, 0, 5, 0, 5)),
            _feature("twice", _cells(g, 5, 10, 0, 5)),
        ],
    )
    report = run_plots_check(PlotsRequest(plots=plots, summary=prediction.summary, out_dir=tmp_path / "out"))
    messages = sorted(e.message for e in report.errors)
    assert messages == [
        "plot bowtie: invalid polygon: Self-intersection[-62.995 -9.945]",
        f"plot far: outside the scene ({g.describe()})",
        "plot no-area: a point needs its area in hectares (property Area or area_ha or area)",
        "plot twice: id used by 2 plots; give each plot its own id",
        "plot twice: id used by 2 plots; give each plot its own id",
    ]
    assert report.summary()["checked"] == 1
    with report.paths["csv"].open() as handle:
        assert [r["plot_id"] for r in csv.DictReader(handle)] == ["good", "bowtie", "no-area", "far", "twice", "twice"]


def test_cli_exits_1_only_when_no_plot_could_be_checked(prediction: FakePrediction, tmp_path: Path) -> None:
    g = prediction.grid
    runner = CliRunner()
    args = ["plots", "check", "--prediction", str(prediction.summary), "--out", str(tmp_path / "out"), "--json"]
    some = _write(tmp_path, [_feature("good", _cells(g, 20, 30, 20, 30)), _feature("no-geometry", None)])
    ok = runner.invoke(cli, [*args, "--plots", str(some)])
    assert ok.exit_code == 0, ok.output
    assert "plot no-geometry: no geometry" in ok.output
    none = _write(tmp_path, [_feature("no-geometry", None)])
    bad = runner.invoke(cli, [*args, "--plots", str(none), "--overwrite"])
    assert bad.exit_code == 1 and "no plot could be checked: plot no-geometry: no geometry" in bad.output


def test_a_prediction_from_before_the_cutoff_is_refused(prediction: FakePrediction, tmp_path: Path) -> None:
    plots = _write(tmp_path, [_feature("good", _cells(prediction.grid, 20, 30, 20, 30))])
    request = PlotsRequest(
        plots=plots, summary=prediction.summary, out_dir=tmp_path / "out", observed_after="2020-06-30"
    )
    with pytest.raises(SentinelError, match="dated 2020-06-30, before the cutoff 2020-12-31"):
        run_plots_check(request)
