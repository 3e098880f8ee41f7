"""Shared fixtures: small fake scenes written through the project's own writers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.raster import Grid, mask_writer, scene_writer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@dataclass
class FakeScene:
    before: Path
    after: Path
    mask: Path
    grid: Grid
    arrays: dict[str, np.ndarray]


def utm_grid(size: int, width: int | None = None, x0: float = 500_000.0, y0: float = 8_900_000.0) -> Grid:
    return Grid(CRS.from_epsg(32720), Affine(10, 0, x0, 0, -10, y0), width or size, size)


def write_fake_scene(
    directory: Path,
    size: int = 512,
    width: int | None = None,
    seed: int = 0,
    bands: tuple[str, ...] = DEFAULT_BANDS,
    nodata_rows: int = 0,
) -> FakeScene:
    """A scene pair with random reflectance, a block of loss and a block of unknown pixels."""
    rng = np.random.default_rng(seed)
    grid = utm_grid(size, width)
    shape = (len(bands), grid.height, grid.width)
    before = rng.integers(200, 4000, shape, dtype=np.uint16)
    after = rng.integers(200, 4000, shape, dtype=np.uint16)
    mask = np.zeros((grid.height, grid.width), np.uint8)
    mask[grid.height // 4 : grid.height // 2, grid.width // 4 : grid.width // 2] = 1
    mask[: grid.height // 8, -grid.width // 8 :] = 255
    if nodata_rows:
        before[:, :nodata_rows] = 0
        mask[:nodata_rows] = 255
    paths = {k: directory / f"fake_{k}.tif" for k in ("before", "after", "mask")}
    for key, data in (("before", before), ("after", after)):
        with scene_writer(paths[key], grid, bands) as writer:
            writer.write(data)
    with mask_writer(paths["mask"], grid) as writer:
        writer.write(mask)
    return FakeScene(
        paths["before"], paths["after"], paths["mask"], grid, {"before": before, "after": after, "mask": mask}
    )


@pytest.fixture
def fake_scene(tmp_path: Path) -> FakeScene:
    return write_fake_scene(tmp_path / "raw", size=512)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (it lives in ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def simulated_chips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chips (128 px) of a small simulated scene: realistic enough to train on for an epoch."""
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene

    root = tmp_path_factory.mktemp("simulated")
    scene = simulate_scene(SimulationConfig(name="tiny", size=512, seed=3), root / "raw")
    chip_scene(scene.before, scene.after, scene.mask, root / "chips" / "tiny", ChipConfig(size=128, split_block=128))
    return root / "chips"


@pytest.fixture
def mlflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private MLflow store (sqlite + ./mlartifacts) in a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return tmp_path
