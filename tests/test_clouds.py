"""The spectral cloud and shadow screen: simulated scenes, clearings, water, dilation, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from planet_sentinel.bands import DEFAULT_BANDS
from planet_sentinel.clouds import DEFAULT_SCREEN, CloudScreen, cloud_mask
from planet_sentinel.errors import SentinelError

# Nominal reflectance x10000 in DEFAULT_BANDS order (B02 B03 B04 B08 B11 B12).
FOREST = (230, 470, 270, 2950, 1380, 560)
WATER = (470, 620, 520, 110, 55, 35)
CLOUD = (5600, 5450, 5300, 5650, 3900, 2700)
SHADOW_DARK = np.array([0.5, 0.56, 0.6, 0.7, 0.72, 0.72])  # darkening of a full shadow per band


def image_of(*spectra: tuple[int, ...], size: int = 16) -> np.ndarray:
    """A (6, size, size * n) image, one uniform block per spectrum."""
    blocks = [np.broadcast_to(np.array(s, np.uint16)[:, None, None], (6, size, size)) for s in spectra]
    return np.ascontiguousarray(np.concatenate(blocks, axis=2))


def test_simulated_scene_recall_and_false_positives(tmp_path: Path) -> None:
    synthetic = pytest.importorskip("planet_sentinel.sources.synthetic")
    scene = synthetic.simulate_scene(
        synthetic.SimulationConfig(name="cloudy", size=512, seed=11, cloud_cover=0.1), tmp_path
    )
    with rasterio.open(scene.before) as b, rasterio.open(scene.after) as a, rasterio.open(scene.mask) as m:
        bands = list(b.descriptions)
        before, after, mask = b.read(), a.read(), m.read(1)
    flagged = cloud_mask(before, bands) | cloud_mask(after, bands)
    valid = (before != 0).all(axis=0) & (after != 0).all(axis=0)
    hidden = (mask == 255) & valid
    clear = mask != 255
    assert hidden.mean() > 0.05, "the simulated scene should have clouds to find"
    recall = (flagged & hidden).sum() / hidden.sum()
    false_positive_rate = (flagged & clear).sum() / clear.sum()
    loss_hidden = (flagged & (mask == 1)).sum() / max((mask == 1).sum(), 1)
    # measured on this seed: recall 0.95, false positives 4.3 %, loss hidden 4.5 %
    assert recall > 0.9, recall
    assert false_positive_rate < 0.07, false_positive_rate
    assert loss_hidden < 0.1, loss_hidden


def test_clearings_and_bright_soil_are_not_clouds() -> None:
    # bright bare soil of fresh clearings: B04 1300-1800, B11 2800-3500, blue 0.5-0.7 x red
    rng = np.random.default_rng(0)
    n = 20_000
    red = rng.uniform(1300, 1800, n)
    image = (
        np.stack(
            [
                red * rng.uniform(0.5, 0.7, n) + rng.uniform(0, 250, n),  # B02, up to +250 of haze
                red * rng.uniform(0.75, 0.9, n),  # B03
                red,  # B04
                rng.uniform(1800, 2700, n),  # B08
                rng.uniform(2800, 3500, n),  # B11
                rng.uniform(2200, 3000, n),  # B12
            ]
        )
        .astype(np.uint16)
        .reshape(6, 100, 200)
    )
    cloud, shadow = DEFAULT_SCREEN.components(image, DEFAULT_BANDS)
    assert not cloud.any()
    assert not shadow.any()
    # the simulator's own cleared and bright classes, nominal spectra
    synthetic = pytest.importorskip("planet_sentinel.sources.synthetic")
    spectra = synthetic.class_spectra()
    classes = ("bare_soil", "road", "slash", "burn_scar", "early_pasture", "sand", "pasture", "forest", "water")
    image = image_of(*(tuple(spectra[c][b] for b in DEFAULT_BANDS) for c in classes))
    assert not cloud_mask(image, DEFAULT_BANDS).any()


def test_clouds_thin_clouds_and_shadows_are_flagged_water_is_not() -> None:
    forest = np.array(FOREST, np.float64)
    thin = 0.65 * forest + 0.35 * 0.9 * np.array(CLOUD)  # opacity 0.35 over forest
    shadowed = forest * (1 - 0.8 * SHADOW_DARK)  # a shadow of strength 0.8 over forest
    image = image_of(FOREST, CLOUD, tuple(thin.astype(int)), tuple(shadowed.astype(int)), WATER)
    cloud, shadow = DEFAULT_SCREEN.components(image, DEFAULT_BANDS)
    blocks = [slice(16 * i + 5, 16 * i + 11) for i in range(5)]  # block interiors, clear of dilation
    inner = (slice(5, 11),)

    def block(mask: np.ndarray, i: int) -> np.ndarray:
        return mask[inner + (blocks[i],)]

    assert not block(cloud | shadow, 0).any()  # forest
    assert block(cloud, 1).all()  # thick cloud
    assert block(cloud, 2).all()  # thin cloud
    assert block(shadow, 3).all() and not block(cloud, 3).any()  # shadow
    assert not block(cloud | shadow, 4).any()  # water: dark in NIR too, but not land-like


def test_dilation_radii_and_nodata() -> None:
    image = image_of(FOREST, size=32)
    image[:, 8, 8] = CLOUD
    image[:, 22, 22] = (np.array(FOREST) * 0.3).astype(np.uint16)  # one very dark forest pixel
    image[:, 0:4, 28:32] = 0  # nodata
    cloud, shadow = DEFAULT_SCREEN.components(image, DEFAULT_BANDS)
    yy, xx = np.mgrid[0:32, 0:32]
    assert np.array_equal(cloud, (yy - 8) ** 2 + (xx - 8) ** 2 <= 1)
    assert np.array_equal(shadow, (yy - 22) ** 2 + (xx - 22) ** 2 <= 16)
    assert not (cloud | shadow)[0:4, 28:32].any()
    # no dilation
    screen = CloudScreen(cloud_dilation=0, shadow_dilation=0)
    assert cloud_mask(image, DEFAULT_BANDS, screen).sum() == 2
    assert DEFAULT_SCREEN.radius == 4


def test_band_order_does_not_matter() -> None:
    image = image_of(FOREST, CLOUD, WATER, tuple((np.array(FOREST) * 0.3).astype(int)))
    order = [5, 3, 0, 4, 1, 2]
    permuted = image[order]
    names = [DEFAULT_BANDS[i] for i in order]
    assert np.array_equal(cloud_mask(image, DEFAULT_BANDS), cloud_mask(permuted, names))
    assert cloud_mask(image, DEFAULT_BANDS).any()
    # common names and spellings are accepted
    spelled = ["blue", "green", "red", "nir", "B11", "B12"]
    assert np.array_equal(cloud_mask(image, spelled), cloud_mask(image, DEFAULT_BANDS))


def test_bad_input() -> None:
    image = image_of(FOREST)
    with pytest.raises(SentinelError, match="B11"):
        cloud_mask(image[:4], DEFAULT_BANDS[:4])
    with pytest.raises(SentinelError, match="band names"):
        cloud_mask(image, DEFAULT_BANDS[:5])
    with pytest.raises(SentinelError, match="bands, rows, cols"):
        cloud_mask(image[0], DEFAULT_BANDS)
