"""A small generated workspace for the site tests: a prediction with alerts, a two-tile region, an
evaluation. Everything is made here in well under a second; no model runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import box

from planet_sentinel.alerts.stage import AlertsRequest, run_alerts
from planet_sentinel.evaluation_report import EvaluationRecord
from planet_sentinel.raster import scene_writer
from planet_sentinel.region.merge import merge_region
from planet_sentinel.region.plan import PlanConfig, plan_region
from tests.alerts.fakes import write_prediction
from tests.conftest import utm_grid
from tests.region.conftest import alert, write_alerts, write_aoi

#: Loss blocks of the prediction: three separate polygons, one above the high threshold.
BLOCKS = [(10, 20, 10, 20, 95), (40, 50, 40, 60, 70), (80, 100, 90, 110, 60)]
SIZE = 128


@dataclass(frozen=True)
class FakeWorkspace:
    root: Path
    prediction_alerts: int
    region_alerts: int
    tiles: int

    @property
    def alerts(self) -> int:
        return self.prediction_alerts + self.region_alerts


def _true_colour_scenes(prediction_dir: Path, name: str) -> None:
    """Replace the fake prediction's one-band scenes with dated three-band ones (a picture to show)."""
    grid = utm_grid(SIZE)
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for role, date in (("before", "2024-01-31"), ("after", "2024-03-31")):
        base = (1000 + 10 * xx + 8 * yy).astype(np.uint16)
        data = np.stack([base + rng.integers(0, 300, base.shape, dtype=np.uint16) for _ in range(3)])
        tags = {"ACQUISITION_DATE": date}
        with scene_writer(prediction_dir / f"{name}_{role}.tif", grid, ["B02", "B03", "B04"], tags) as w:
            w.write(data)


def _region(out: Path) -> tuple[int, int]:
    from rasterio.warp import transform

    out.mkdir(parents=True, exist_ok=True)
    xs, ys = transform("EPSG:32720", "EPSG:4326", [500_500.0, 501_500.0], [8_900_300.0, 8_900_700.0])
    plan = plan_region(write_aoi(out / "aoi.geojson", xs[0], ys[0], xs[1], ys[1]), PlanConfig(tile_km=1, margin_m=100))
    plan.save(out / "plan.json")
    west, east = plan.tiles
    border = west.bounds[2]
    clearing = box(border - 300, 8_900_400, border - 100, 8_900_600)
    write_alerts(out / "tiles", west.id, [alert(clearing, west.crs, west.id)])
    (out / "tiles" / f"{east.id}_failed.txt").write_text("ingest: Earth Engine answered 429\n")
    summary = merge_region(out / "plan.json", out / "tiles", out / "merged")
    return summary.totals.alerts, len(plan.tiles)


def _evaluation(out: Path) -> None:
    scores = {"precision": 0.8, "recall": 0.7, "f1": 0.75, "iou": 0.6, "ap": 0.8, "tp": 7, "fp": 2, "fn": 3, "tn": 88}
    record = EvaluationRecord.model_validate(
        {
            "schema_version": EvaluationRecord.SCHEMA_VERSION,
            "model": {"name": "planet-sentinel", "version": "7", "run_id": "run-1", "fingerprint": "abc123"},
            "settings": {"split": "test"},
            "notes": [],
            "scenes": [],
            "overall": {"model": {**scores, "threshold": 0.5}, "ndvi_otsu": {**scores, "f1": 0.4, "threshold": None}},
        }
    )
    record.save(out / "evaluation.json")


def make_workspace(root: Path) -> FakeWorkspace:
    """``root/outputs/{demo,region,demo/evaluation}`` as the stages would leave them."""
    demo = root / "outputs" / "demo"
    fake = write_prediction(demo, BLOCKS, name="demo", size=SIZE, high_threshold=0.9)
    _true_colour_scenes(demo, "demo")
    found = run_alerts(AlertsRequest(summary=fake.summary, out_dir=demo))
    region_alerts, tiles = _region(root / "outputs" / "region")
    _evaluation(demo / "evaluation")
    return FakeWorkspace(root, len(found.alerts), region_alerts, tiles)
