"""Loss polygons: a loss mask (and its probabilities) as GeoJSON features in EPSG:4326 (RFC 7946).

Memory: the finished loss mask is read once (1 byte/pixel) and labelled (4 bytes/pixel, plus
boolean temporaries); the probability raster is read in 128-row strips, so at most about
7 bytes per scene pixel (about 470 MB for 8192 x 8192), and only in this step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np

from planet_sentinel.raster import Grid, block_windows, open_raster

if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS


class Geometry(TypedDict):
    """A GeoJSON geometry; ``coordinates`` nests rings (and polygons) of [lon, lat] pairs."""

    type: str
    coordinates: list[Any]


class LossProperties(TypedDict):
    id: NotRequired[int]
    area_ha: float
    pixels: int
    mean_probability: NotRequired[float]


class Feature(TypedDict):
    type: str
    properties: LossProperties
    geometry: Geometry
    id: NotRequired[int]


class FeatureCollection(TypedDict):
    type: str
    name: NotRequired[str]
    features: list[Feature]


#: A (H, W) probability array, or a function of the label image giving per-label probability sums.
ProbabilitySource = Callable[[np.ndarray], np.ndarray] | np.ndarray


def loss_polygons(
    mask: np.ndarray,
    transform: Affine,
    crs: CRS | str,
    min_area_ha: float = 0.5,
    probability: ProbabilitySource | None = None,
) -> list[Feature]:
    """GeoJSON features (EPSG:4326, RFC 7946) of the loss patches of a mask.

    Patches (4-connected pixels of value 1) smaller than ``min_area_ha`` are dropped before
    vectorising (the minimum mapping unit). Each feature has ``area_ha`` (computed in the
    mask's projected CRS), ``pixels`` and, when ``probability`` is given, ``mean_probability``
    (0..1) of its pixels. ``probability`` is a (H, W) array of probabilities, or a function that
    takes the label image and returns the per-label probability sums (index 0 unused), so a
    caller can stream the probability raster instead of holding it.
    """
    from scipy import ndimage

    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    min_px = max(1, math.ceil(min_area_ha * 10_000 / pixel_area - 1e-9)) if min_area_ha > 0 else 1
    labels, n = ndimage.label(mask == 1)
    if n == 0:
        return []
    sizes = np.zeros(n + 1, np.int64)
    for row in range(0, labels.shape[0], 256):  # in strips: bincount works in 8-byte integers
        sizes += np.bincount(labels[row : row + 256].ravel(), minlength=n + 1)
    small = sizes < min_px
    small[0] = True
    labels[small[labels]] = 0
    sums = None
    if probability is not None:
        if callable(probability):
            sums = probability(labels)
        else:
            sums = ndimage.sum_labels(probability, labels, np.arange(n + 1))
    features = _features(labels.astype(np.int32, copy=False), sizes, sums, transform, crs)
    features.sort(key=lambda f: -f["properties"]["area_ha"])
    for i, feature in enumerate(features, start=1):
        feature["id"] = i
        feature["properties"] = {"id": i, **feature["properties"]}
    return features


def _features(
    labels: np.ndarray, sizes: np.ndarray, sums: np.ndarray | None, transform: Affine, crs: CRS | str
) -> list[Feature]:
    """One feature per remaining label, in the order rasterio traces them."""
    from rasterio.features import shapes
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping, shape
    from shapely.geometry.polygon import orient

    features: list[Feature] = []
    for geom, value in shapes(labels, mask=labels > 0, transform=transform, connectivity=4):
        label = int(value)
        area_ha = shape(geom).area / 10_000
        wgs84 = shape(transform_geom(crs, "EPSG:4326", geom))
        wgs84 = orient(wgs84, sign=1.0) if wgs84.geom_type == "Polygon" else wgs84
        props: LossProperties = {"area_ha": round(area_ha, 4), "pixels": int(sizes[label])}
        if sums is not None:
            props["mean_probability"] = round(float(sums[label]) / int(sizes[label]), 4)
        features.append({"type": "Feature", "properties": props, "geometry": _round_geometry(mapping(wgs84))})
    return features


def _round_geometry(geom: Any, digits: int = 7) -> Geometry:
    """``geom`` (a GeoJSON-like mapping) with coordinates rounded to ``digits`` (about 1 cm)."""

    def rnd(coords: Any) -> list[Any]:
        if isinstance(coords[0], (int, float)):
            return [round(float(c), digits) for c in coords]
        return [rnd(c) for c in coords]

    return {"type": str(geom["type"]), "coordinates": rnd(geom["coordinates"])}


def feature_collection(features: list[Feature], name: str | None = None) -> FeatureCollection:
    """A FeatureCollection (its ``name`` first, then the features, as people read it)."""
    if name is None:
        return {"type": "FeatureCollection", "features": features}
    return {"type": "FeatureCollection", "name": name, "features": features}


def vectorise(loss_path: Path, prob_path: Path, grid: Grid, min_area_ha: float) -> list[Feature]:
    """Polygons of a finished loss COG; the probability COG is read strip by strip."""
    with open_raster(loss_path) as ds:
        mask = ds.read(1)

    def probability_sums(labels: np.ndarray) -> np.ndarray:
        n = int(labels.max())
        sums = np.zeros(n + 1, np.float64)
        with open_raster(prob_path) as ds:
            for w in block_windows(grid, rows=128):
                strip = labels[w.row_off : w.row_off + w.height]
                if strip.any():
                    percent = ds.read(1, window=w)
                    sums += np.bincount(strip.ravel(), weights=percent.ravel(), minlength=n + 1)
        return sums / 100.0

    return loss_polygons(mask, grid.transform, grid.crs, min_area_ha, probability_sums)
