"""Loss masks: from analyst polygons, from spectral change (pseudo-labels), and their review.

A mask is a uint8 GeoTIFF on the scene grid: 0 = no loss, 1 = forest loss, 255 = unknown
(nodata, clouds, anything an analyst could not decide). Masks are written atomically as COGs
and existing outputs are refused unless ``overwrite``. One module per job:

* :mod:`~planet_sentinel.labels.config`: :class:`LabelConfig`, the ``label`` section of params.yaml;
* :mod:`~planet_sentinel.labels.vector`: :func:`mask_from_vector` burns analysts' polygons;
* :mod:`~planet_sentinel.labels.spectral`: :func:`mask_from_spectral` makes pseudo-labels;
* :mod:`~planet_sentinel.labels.review`: :func:`check_labels` reviews a mask against its scenes;
* :mod:`~planet_sentinel.labels.summary`: the classes, pixel area and :class:`LabelSummary` they share.
"""

from __future__ import annotations

from planet_sentinel.labels.config import SECTION, LabelConfig, SpectralOverrides, VectorOverrides
from planet_sentinel.labels.review import LabelReport, check_labels
from planet_sentinel.labels.spectral import mask_from_spectral
from planet_sentinel.labels.summary import LOSS, NO_LOSS, LabelSummary, pixel_area_ha
from planet_sentinel.labels.vector import mask_from_vector

__all__ = [
    "LOSS",
    "NO_LOSS",
    "SECTION",
    "LabelConfig",
    "LabelReport",
    "LabelSummary",
    "SpectralOverrides",
    "VectorOverrides",
    "check_labels",
    "mask_from_spectral",
    "mask_from_vector",
    "pixel_area_ha",
]
