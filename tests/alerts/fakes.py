"""A fake `sentinel predict` output written in the test: probability + loss COGs, tagged scenes, summary.

Why fake: alerts read only the prediction's files, so a few blocks of loss at chosen
probabilities test every rule in milliseconds, without a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planet_sentinel.predict import GridInfo, ModelInfo, PredictionSummary
from planet_sentinel.raster import Grid, RasterWriter, mask_writer, scene_writer
from tests.conftest import utm_grid

#: (row0, row1, col0, col1, percent): a rectangle of loss pixels at one probability.
Block = tuple[int, int, int, int, int]


@dataclass
class FakePrediction:
    summary: Path
    grid: Grid
    loss: np.ndarray


def write_prediction(
    directory: Path,
    blocks: Sequence[Block],
    dates: tuple[str | None, str | None] = ("2024-01-31", "2024-03-31"),
    name: str = "tile",
    size: int = 64,
    unknown: tuple[int, int, int, int] | None = None,
    threshold: float = 0.5,
    high_threshold: float | None = None,
) -> FakePrediction:
    """A prediction of ``size`` x ``size`` px at 10 m (EPSG:32720) whose loss is ``blocks``."""
    grid = utm_grid(size)
    percent = np.full((size, size), 10, np.uint8)
    loss = np.zeros((size, size), np.uint8)
    for r0, r1, c0, c1, p in blocks:
        percent[r0:r1, c0:c1] = p
        loss[r0:r1, c0:c1] = 1
    if unknown is not None:
        r0, r1, c0, c1 = unknown
        percent[r0:r1, c0:c1] = 255
        loss[r0:r1, c0:c1] = 255
    directory.mkdir(parents=True, exist_ok=True)
    with RasterWriter(directory / f"{name}_probability.tif", grid, 1, "uint8", 255, ["probability"]) as w:
        w.write(percent)
    with mask_writer(directory / f"{name}_loss.tif", grid) as w:
        w.write(loss)
    scenes = []
    for role, date in zip(("before", "after"), dates, strict=True):
        path = directory / f"{name}_{role}.tif"
        with scene_writer(path, grid, ["B04"], tags={"ACQUISITION_DATE": date} if date else {}) as w:
            w.write(np.full((1, size, size), 500, np.uint16))
        scenes.append(str(path))
    model: dict[str, Any] = dict(
        name="planet-sentinel", version="7", run_id="run-1", bands=["B04"], chip_size=64, threshold=0.5
    )
    if high_threshold is not None:  # ModelInfo.high_threshold (issue #14)
        model["high_threshold"] = high_threshold
    summary = PredictionSummary(
        schema_version=PredictionSummary.SCHEMA_VERSION,
        name=name,
        before=scenes[0],
        after=scenes[1],
        grid=GridInfo.of(grid),
        model=ModelInfo(**model),
        threshold=threshold,
        min_area_ha=0.0,
        window=64,
        overlap=0,
        windows=1,
        cloud_screen=False,
        device="cpu",
        loss_area_ha=0.0,
        loss_pixels_area_ha=0.0,
        polygons=len(blocks),
        changed_share=0.0,
        unknown_share=0.0,
        timings_s={},
    )
    path = summary.save(directory / f"{name}_prediction.json")
    return FakePrediction(path, grid, loss)
