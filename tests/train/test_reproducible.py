"""Training is bit-for-bit the code it was: two seeded epochs on tiny generated chips give the
history and weights recorded from the single-module ``train.py`` (commit fac6312) before it was
cut into a package.

The chips come from rasters written here with numpy (not the scene simulator), so only the
training code and chipping decide the numbers. Weights are compared through fixed random
projections with a tight tolerance rather than their raw bytes: any change to what training does
(another RNG draw, another batch order, another loss) moves them far more than 1e-4, while the
last bits of float32 convolutions may differ between CPUs (oneDNN picks kernels per instruction
set), which a byte checksum would report as a failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from planet_sentinel.chips import ChipConfig, chip_scene
from planet_sentinel.model_bundle import load_bundle
from planet_sentinel.train import TrainConfig, train

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
SIZE = 256

#: Recorded from the old train.py (commit fac6312): history of two epochs, then the projections.
RECORDED_LOSSES = (1.2121963024139404, 1.180492115020752)
RECORDED_F1 = (0.8619742737389796, 0.8977939123149958)
RECORDED_THRESHOLD = 0.566
RECORDED_PROJECTIONS = (
    -7.6888905411389725,
    -2.6489752836572715,
    9.512097970319056,
    1.6746451926623673,
    -6.21636496557469,
    1.02560407861198,
    1.1909875412323518,
    -15.775809161344004,
)


def write_scene(path: Path, data: np.ndarray, descriptions: tuple[str, ...]) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = dict(
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=data.shape[0],
        dtype=str(data.dtype),
        crs="EPSG:32633",
        transform=from_origin(500000, 5000000, 10, 10),
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = descriptions


@pytest.fixture(scope="module")
def generated_chips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chips (64 px) of a 256 px scene pair whose loss patches darken NIR and brighten SWIR."""
    root = tmp_path_factory.mktemp("generated")
    rng = np.random.default_rng(7)
    before = rng.normal([[[400]], [[700]], [[500]], [[3000]], [[1500]], [[700]]], 80, (len(BANDS), SIZE, SIZE))
    mask = np.zeros((SIZE, SIZE), np.uint8)
    for r, c in rng.integers(0, SIZE - 40, (12, 2)):
        mask[r : r + 40, c : c + 40] = 1
    after = before + rng.normal(0, 60, before.shape)
    after[:, mask == 1] += np.array([[150], [200], [350], [-1600], [900], [800]])
    for name, data in (("before", before), ("after", after)):
        write_scene(root / f"{name}.tif", np.clip(data, 1, 10000).astype(np.uint16), BANDS)
    write_scene(root / "mask.tif", mask[None], ("forest_loss",))
    config = ChipConfig(size=64, split_block=64, split_ratios=(0.6, 0.2, 0.2))
    chip_scene(root / "before.tif", root / "after.tif", root / "mask.tif", root / "chips" / "gen", config)
    return root / "chips"


def projections(state: dict[str, torch.Tensor]) -> np.ndarray:
    """Eight fixed random projections of every floating-point weight, in state-dict order."""
    flat = torch.cat([t.detach().double().flatten() for t in state.values() if t.is_floating_point()]).numpy()
    return np.random.default_rng(0).normal(size=(8, flat.size)) @ flat


def test_two_seeded_epochs_match_the_recorded_run(generated_chips: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, base=4, depth=3, crop=32, batch_size=4, threads=1, patience=5, seed=11)
    result = train(generated_chips, tmp_path / "run", config)
    assert tuple(h["train_loss"] for h in result.history) == pytest.approx(RECORDED_LOSSES, rel=1e-5)
    assert tuple(h["val_f1"] for h in result.history) == pytest.approx(RECORDED_F1, abs=1e-6)
    state = torch.load(result.checkpoint_path, weights_only=False)["model"]
    np.testing.assert_allclose(projections(state), RECORDED_PROJECTIONS, rtol=1e-4, atol=1e-4)
    # The bundle holds the best epoch's weights; here the last epoch was the best.
    assert result.best["epoch"] == 2 and result.best["val_threshold"] == pytest.approx(RECORDED_THRESHOLD, abs=1e-9)
    bundle = load_bundle(result.bundle_path)
    np.testing.assert_allclose(projections(bundle.model.state_dict()), RECORDED_PROJECTIONS, rtol=1e-4, atol=1e-4)
