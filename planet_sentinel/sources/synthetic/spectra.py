"""Land-cover classes, their Level-2A spectra, and the spectra of clouds, shadows, haze and noise."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from planet_sentinel.bands import DEFAULT_BANDS


class LandClass(IntEnum):
    """Land-cover codes of :class:`LandCover` maps (0 is never used on land)."""

    NONE = 0
    FOREST = 1
    SECONDARY = 2
    PASTURE = 3
    BARE = 4
    WATER = 5
    ROAD = 6
    SAND = 7
    SLASH = 8
    BURN = 9
    EARLY_PASTURE = 10
    LOGGED = 11


CLASS_NAMES: tuple[str, ...] = (
    "none",
    "forest",
    "secondary_forest",
    "pasture",
    "bare_soil",
    "water",
    "road",
    "sand",
    "slash",
    "burn_scar",
    "early_pasture",
    "logging_gap",
)
N_CLASSES = len(CLASS_NAMES)

# Surface reflectance x10000 for B02 B03 B04 B08 B11 B12: base spectrum, the spectral direction of
# the class's variation field, and the weights of its fine and medium texture. Forest B02-B04 and its
# canopy texture are fitted to real Amazon forest (`python -m tools bench realism`: the labelled
# cloud-free MultiEarth chips, medians B02 0.021, B03 0.043, B04 0.020 with the demo's haze on top, so
# the haze-free base is darker); B08/B11/B12 are unchanged (the chips have no such bands): dense
# tropical forest in Sentinel-2 L2A is typically NIR 0.25-0.35, SWIR1 0.12-0.16, SWIR2 0.04-0.07.
# the class's variation field (canopy shadows, pasture dryness, soil moisture, turbidity) and the
# weights of fine (per-pixel) and medium (tens of pixels) texture in that variation field.
_SPECTRA: dict[LandClass, tuple[tuple[int, ...], tuple[int, ...], float, float]] = {
    LandClass.FOREST: ((127, 369, 152, 2950, 1380, 560), (40, 85, 65, 380, 160, 75), 0.8, 0.8),
    LandClass.SECONDARY: ((280, 560, 340, 3300, 1620, 720), (30, 55, 45, 300, 140, 70), 0.6, 0.5),
    LandClass.PASTURE: ((430, 740, 700, 2700, 2350, 1350), (110, 130, 280, -380, 380, 380), 0.3, 0.3),
    LandClass.BARE: ((950, 1250, 1600, 2250, 3150, 2600), (140, 170, 220, 220, 300, 300), 0.3, 0.6),
    LandClass.WATER: ((470, 620, 520, 110, 55, 35), (60, 90, 120, 35, 15, 10), 0.15, 0.6),
    LandClass.ROAD: ((1150, 1450, 1900, 2500, 3350, 2900), (90, 110, 150, 150, 200, 200), 0.4, 0.3),
    LandClass.SAND: ((1050, 1250, 1450, 1750, 2450, 1850), (150, 170, 200, 200, 250, 250), 0.3, 0.6),
    LandClass.SLASH: ((620, 860, 1080, 2100, 2800, 1950), (120, 140, 200, 300, 300, 300), 0.7, 0.5),
    LandClass.BURN: ((320, 420, 480, 1250, 1800, 1600), (60, 70, 90, 220, 220, 220), 0.5, 0.6),
    LandClass.EARLY_PASTURE: (
        (680, 930, 1100, 2450, 2850, 2000),
        (110, 130, 200, -250, 300, 300),
        0.4,
        0.5,
    ),
    LandClass.LOGGED: ((380, 620, 560, 2550, 1950, 1050), (60, 80, 90, 350, 200, 150), 0.8, 0.4),
}


def class_spectra() -> dict[str, dict[str, int]]:
    """Nominal surface reflectance (x10000) of each land-cover class, by band name."""
    return {CLASS_NAMES[c]: dict(zip(DEFAULT_BANDS, base, strict=True)) for c, (base, _, _, _) in _SPECTRA.items()}


def class_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base = np.zeros((N_CLASSES, len(DEFAULT_BANDS)), np.float32)
    amp = np.zeros_like(base)
    fine = np.zeros(N_CLASSES, np.float32)
    med = np.zeros(N_CLASSES, np.float32)
    for c, (b, a, f, m) in _SPECTRA.items():
        base[c], amp[c], fine[c], med[c] = b, a, f, m
    return base, amp, fine, med


PASTURE_LIKE = (LandClass.PASTURE, LandClass.EARLY_PASTURE)
VEGETATION = (LandClass.FOREST, LandClass.SECONDARY, LandClass.LOGGED)
# Classes cleared forest becomes, with their probabilities.
CLEARED = (LandClass.SLASH, LandClass.BURN, LandClass.BARE, LandClass.EARLY_PASTURE)
CLEARED_P = (0.35, 0.25, 0.2, 0.2)
# Clouds (x10000) and the darkening of a full cloud shadow, per band.
CLOUD_SPECTRUM = np.array([5600, 5450, 5300, 5650, 3900, 2700], np.float32)
SHADOW_DARKENING = np.array([0.5, 0.56, 0.6, 0.7, 0.72, 0.72], np.float32)
# Additive haze per band at strength 1 (aerosol scattering falls with wavelength).
HAZE_SPECTRUM = np.array([1000, 760, 560, 300, 90, 45], np.float32)
NOISE_BY_BAND = np.array([1.0, 0.9, 0.9, 0.8, 1.1, 1.3], np.float32)
PSF_SIGMA = 0.55
