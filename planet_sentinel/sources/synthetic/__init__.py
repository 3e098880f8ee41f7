"""Realistic simulated Sentinel-2 L2A scene pairs: the embedded default source, fully offline.

A scene pair is drawn in three steps, each from its own random stream of one seed:

1. **Land cover** (:func:`land_cover`): an Amazon colonisation frontier at 10 m. Dense forest,
   a meandering river with sand banks and a tributary, a main road with side roads at right
   angles (the "fishbone"), parcels cleared back from the roads to pasture, bare soil or
   regrowth, and a riparian buffer that is left standing. The after date adds forest loss:
   parcels cleared deeper, new blocky pasture conversions, extended side roads with their first
   clearings, and clusters of selective-logging gaps with skid trails and log decks. It also adds
   changes that are *not* deforestation: parcels switching between pasture and bare soil, pasture
   fires and a different river level.
2. **Reflectance**: per-class Level-2A spectra with canopy and field textures, terrain
   illumination, a sensor point-spread function and, per date, a seasonal (phenology/illumination)
   shift, haze strongest in blue, clouds with soft edges and their offset shadows, sensor noise,
   a sub-pixel misregistration of the after image, an optional swath edge (nodata) and an optional
   radiometric gain drift.
3. **Mask**: 1 where primary forest became non-forest, 0 elsewhere, 255 where either date is
   hidden by a cloud or its shadow or has no data.

Everything is computed band by band on whole float32 arrays with reused buffers, so a
8192 x 8192 pair fits in a few gigabytes; smooth fields are drawn at coarse resolution and
upsampled. The same seed always gives byte-identical pixels.

Modules, in the order a scene is drawn: :mod:`.config` (knobs, files, grid), :mod:`.spectra`
(classes and spectra), :mod:`.fields` (random streams, noise fields, filters), :mod:`.geometry`
(rivers, roads, parcels), :mod:`.landcover` and :mod:`.clearings` (the maps of both dates and the
forest loss between them), :mod:`.reflectance` (one date's pixels), :mod:`.scene` (the driver
that writes the files) and :mod:`.presets` (the drift monitor's shifted-data presets).
"""

from planet_sentinel.sources.synthetic.config import (
    AFTER_DATE,
    BEFORE_DATE,
    GENERATOR,
    HIDDEN_THRESHOLD,
    MAX_SIZE,
    PIXEL_SIZE,
    SimulatedScene,
    SimulationConfig,
    scene_grid,
)
from planet_sentinel.sources.synthetic.landcover import LandCover, land_cover
from planet_sentinel.sources.synthetic.presets import DRIFT_PRESETS, simulate_new_data
from planet_sentinel.sources.synthetic.scene import simulate_scene
from planet_sentinel.sources.synthetic.spectra import CLASS_NAMES, N_CLASSES, LandClass, class_spectra

__all__ = [
    "AFTER_DATE",
    "BEFORE_DATE",
    "CLASS_NAMES",
    "DRIFT_PRESETS",
    "GENERATOR",
    "HIDDEN_THRESHOLD",
    "MAX_SIZE",
    "N_CLASSES",
    "PIXEL_SIZE",
    "LandClass",
    "LandCover",
    "SimulatedScene",
    "SimulationConfig",
    "class_spectra",
    "land_cover",
    "scene_grid",
    "simulate_new_data",
    "simulate_scene",
]
