"""Earth Engine graphs: cloud-masked median composites, the Hansen loss label, window metadata.

Everything here only *builds* ee objects; nothing is evaluated. The same functions run against a
real session, the local emulator, or offline (:func:`offline_session`), where the algorithm
signatures come from the fixtures shipped inside earthengine-api and any network call raises.
Outputs are reprojected onto the plan's grid (AOI UTM zone, origin on whole multiples of the
scale), so before, after and mask share one grid exactly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from planet_sentinel.sources.gee.catalog import (
    CLOUD_SCORE_BAND,
    CLOUD_SCORE_PLUS,
    HANSEN_FIRST_YEAR,
    HANSEN_GFC,
    HANSEN_LAST_YEAR,
    ROLE_PROPERTY,
    S2_COLLECTION,
    SCL_CLEAR_CLASSES,
    ee_band,
)

#: Resolution (m) of the per-window clear-observation statistics: coarse, they only need shares.
STATS_SCALE = 100


@dataclass(frozen=True)
class GraphSpec:
    """What the graphs depend on: windows, bands, masking, label and the output grid."""

    before: tuple[dt.date, dt.date]
    after: tuple[dt.date, dt.date]
    bands: tuple[str, ...]
    cloud_mask: str
    cloud_threshold: float
    label: str
    treecover_threshold: int
    crs: str
    transform: tuple[float, float, float, float, float, float]
    aoi_geojson: dict[str, Any]


@contextlib.contextmanager
def offline_session(project: str = "offline-dry-run") -> Iterator[None]:
    """An ee session that builds and serialises graphs with no network at all.

    Algorithm signatures come from ``ee/tests/algorithms.json`` (what ``ee.apitestcase`` uses);
    the Cloud API resource is never built, so any call that would reach a server raises.
    """
    import ee
    from ee import apitestcase

    saved = (ee.data.getAlgorithms, ee.data._install_cloud_api_resource, ee.deprecation._FetchDataCatalogStac)
    ee.Reset()
    ee.data.getAlgorithms = apitestcase.GetAlgorithms
    ee.data._install_cloud_api_resource = lambda: None
    ee.deprecation._FetchDataCatalogStac = dict
    try:
        ee.Initialize(None, project=project)
        yield
    finally:
        ee.data.getAlgorithms, ee.data._install_cloud_api_resource, ee.deprecation._FetchDataCatalogStac = saved
        ee.Reset()


def window_filter(window: tuple[dt.date, dt.date]) -> tuple[str, str]:
    """The window as ee's half-open date range: the user's end date is inclusive."""
    start, end = window
    return start.isoformat(), (end + dt.timedelta(days=1)).isoformat()


def aoi_geometry(spec: GraphSpec) -> Any:
    import ee

    return ee.Geometry(spec.aoi_geojson, "EPSG:4326", False)


def sentinel2(spec: GraphSpec, window: tuple[dt.date, dt.date]) -> Any:
    """Sentinel-2 L2A images over the AOI in the window (before any masking)."""
    import ee

    start, end = window_filter(window)
    return ee.ImageCollection(S2_COLLECTION).filterBounds(aoi_geometry(spec)).filterDate(start, end)


def _clear_mask(image: Any, spec: GraphSpec) -> Any:
    """Clear-sky pixels of one image: Cloud Score+ ``cs_cdf`` >= threshold where it has a score, else SCL.

    One expression for every image, without ``ee.Algorithms.If``: ``linkCollection`` gives every
    image a ``cs_cdf`` band, fully masked where Cloud Score+ has no matching image ("If a matching
    image is not found, any new or updated bands will be fully masked",
    https://developers.google.com/earth-engine/apidocs/ee-imagecollection-linkcollection). So
    ``bandNames().contains('cs_cdf')`` is always true and cannot pick a fallback, and Earth Engine
    may evaluate both branches of an ``If`` anyway
    (https://developers.google.com/earth-engine/tutorials/tutorial_js_03, "If/Else Conditions").
    Instead the score test is unmasked with the SCL test: wherever ``cs_cdf`` has no value (no
    match, or no score at that pixel), the Scene Classification Layer decides.
    """
    n = len(SCL_CLEAR_CLASSES)
    scl_clear = image.select("SCL").remap(list(SCL_CLEAR_CLASSES), [1] * n, 0)
    if spec.cloud_mask == "scl":
        return scl_clear
    return image.select(CLOUD_SCORE_BAND).gte(spec.cloud_threshold).unmask(scl_clear)


def link_cloud_score(collection: Any) -> Any:
    """Each image with its Cloud Score+ ``cs_cdf`` band (fully masked when there is no match)."""
    import ee

    return collection.linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [CLOUD_SCORE_BAND])


def cloud_score_matches(images: Any) -> Any:
    """Per image (in collection order): whether Cloud Score+ has an image with the same ``system:index``.

    Matched by id, the way ``linkCollection`` matches by default; no band is inspected, since the
    linked band exists (masked) either way.
    """
    import ee

    ids = images.aggregate_array("system:index")
    scored = ee.ImageCollection(CLOUD_SCORE_PLUS).filter(ee.Filter.inList("system:index", ids))
    scored_ids = scored.aggregate_array("system:index")
    return ids.map(lambda i: scored_ids.contains(i))


def masked_collection(spec: GraphSpec, window: tuple[dt.date, dt.date]) -> Any:
    """The window's images with clouds and shadows masked, reduced to the requested bands."""

    collection = sentinel2(spec, window)
    if spec.cloud_mask == "cloudscore":
        collection = link_cloud_score(collection)
    ee_bands = [ee_band(b) for b in spec.bands]

    def mask_one(image: Any) -> Any:
        # Bilinear for the 20 m bands; the 10 m bands sit on the output grid, so they are unchanged.
        return image.updateMask(_clear_mask(image, spec)).select(ee_bands).resample("bilinear")

    return collection.map(mask_one)


def _on_grid(image: Any, spec: GraphSpec, role: str) -> Any:
    return image.reproject(crs=spec.crs, crsTransform=list(spec.transform)).set(ROLE_PROPERTY, role)


def composite(spec: GraphSpec, role: str) -> Any:
    """The median composite of a window: uint16 reflectance x 10000, 0 where nothing was clear."""
    window = spec.before if role == "before" else spec.after
    median = masked_collection(spec, window).median()
    return _on_grid(median.unmask(0).toUint16(), spec, role)


def loss_years(spec: GraphSpec) -> tuple[int, int]:
    """Hansen ``lossyear`` values (years since 2000) counted as loss between the two windows.

    GFC is annual: loss in the year the before window ends up to the year the after window
    ends. Years past the GFC version's last year are clipped to it (see :func:`label_warnings`).
    """
    first = max(spec.before[1].year, HANSEN_FIRST_YEAR)
    last = min(spec.after[1].year, HANSEN_LAST_YEAR)
    return first - 2000, last - 2000


def label_warnings(spec: GraphSpec) -> list[str]:
    """What the Hansen label cannot know for these windows."""
    first, last = spec.before[1].year, spec.after[1].year
    if first > HANSEN_LAST_YEAR:
        return [
            f"{HANSEN_GFC} covers loss up to {HANSEN_LAST_YEAR}; the windows ({first}-{last}) lie after it, "
            "so the Hansen label is empty. Use `sentinel label from-vector` or `from-spectral` instead."
        ]
    if last > HANSEN_LAST_YEAR:
        return [
            f"{HANSEN_GFC} covers loss up to {HANSEN_LAST_YEAR}; loss in {HANSEN_LAST_YEAR + 1}-{last} "
            "is missing from the label."
        ]
    return []


def hansen_label(spec: GraphSpec) -> Any:
    """uint8 label: 1 forest loss in the span (tree cover 2000 >= threshold), 0 otherwise, 255 unknown.

    Unknown: no clear observation in either composite, or no GFC data (``datamask`` 0).
    """
    import ee

    gfc = ee.Image(HANSEN_GFC)
    first, last = loss_years(spec)
    lossyear = gfc.select("lossyear")
    loss = lossyear.gte(first).And(lossyear.lte(last)).And(gfc.select("treecover2000").gte(spec.treecover_threshold))
    seen = []
    for window in (spec.before, spec.after):
        clear_count = masked_collection(spec, window).select(ee_band(spec.bands[0])).count()
        seen.append(clear_count.gt(0).unmask(0))
    unknown = seen[0].Not().Or(seen[1].Not()).Or(gfc.select("datamask").eq(0))
    label = loss.unmask(0).toUint8().where(unknown, 255)
    return _on_grid(label, spec, "mask")


def outputs(spec: GraphSpec) -> dict[str, Any]:
    """The images to download, by role (``before``, ``after`` and, with a label, ``mask``)."""
    images = {"before": composite(spec, "before"), "after": composite(spec, "after")}
    if spec.label == "hansen":
        images["mask"] = hansen_label(spec)
    return images


def window_metadata(spec: GraphSpec) -> Any:
    """One ee.Dictionary per window: image ids, dates, cloud percentages, clear-sky statistics.

    ``clear_share`` is the share of the AOI with at least one clear observation after masking,
    ``clear_mean`` the mean number of clear observations per pixel (both at :data:`STATS_SCALE`).
    """
    import ee

    result = {}
    for role, window in (("before", spec.before), ("after", spec.after)):
        images = sentinel2(spec, window)
        count = masked_collection(spec, window).select(ee_band(spec.bands[0])).count().unmask(0)
        stats = (
            count.rename("clear_mean")
            .addBands(count.gt(0).rename("clear_share"))
            .reduceRegion(
                reducer=ee.Reducer.mean(),
                geometry=aoi_geometry(spec),
                scale=STATS_SCALE,
                maxPixels=1e9,
                bestEffort=True,
            )
        )
        scored = cloud_score_matches(images) if spec.cloud_mask == "cloudscore" else []
        result[role] = ee.Dictionary(
            {
                ROLE_PROPERTY: role,
                "ids": images.aggregate_array("system:index"),
                "times": images.aggregate_array("system:time_start"),
                "cloudy_pixel_percentage": images.aggregate_array("CLOUDY_PIXEL_PERCENTAGE"),
                "has_cloud_score": scored,
                "clear": stats,
            }
        )
    return ee.Dictionary(result)


def serialise(obj: Any) -> dict[str, Any]:
    """The Cloud API form of an ee object: exactly what a request's ``expression`` carries."""
    import ee

    expression: dict[str, Any] = json.loads(ee.serializer.toJSON(obj, for_cloud_api=True))
    return expression


def graph_hash(graphs: dict[str, Any]) -> str:
    """A stable hash of serialised graphs (keys sorted), recorded with the outputs."""
    text = json.dumps(graphs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe_bands(bands: Sequence[str]) -> list[str]:
    return [ee_band(b) for b in bands]
