"""The Earth Engine graphs, built and serialised offline with earthengine-api's own fixtures.

Assertions are on the serialised Cloud API expressions (what a request carries), read with the
emulator's graph reader: collection ids, filters, masking, bands, reprojection, label.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest

from planet_sentinel.sources.gee import catalog, graph
from tools.emulators.earthengine import calls, constants, expand, role_of

AOI = {
    "type": "Polygon",
    "coordinates": [[[-63.0, -10.0], [-62.9, -10.0], [-62.9, -9.9], [-63.0, -9.9], [-63.0, -10.0]]],
}
TRANSFORM = (10.0, 0.0, 500_000.0, 0.0, -10.0, 8_900_000.0)


def spec(**overrides: Any) -> graph.GraphSpec:
    values: dict[str, Any] = dict(
        before=(dt.date(2024, 1, 1), dt.date(2024, 1, 31)),
        after=(dt.date(2024, 11, 1), dt.date(2024, 11, 30)),
        bands=("B02", "B03", "B04", "B08", "B11", "B12"),
        cloud_mask="cloudscore",
        cloud_threshold=0.6,
        label="hansen",
        treecover_threshold=30,
        crs="EPSG:32720",
        transform=TRANSFORM,
        aoi_geojson=AOI,
    )
    values.update(overrides)
    return graph.GraphSpec(**values)


def trees(s: graph.GraphSpec) -> dict[str, Any]:
    with graph.offline_session():
        serialised = {role: graph.serialise(img) for role, img in graph.outputs(s).items()}
        serialised["metadata"] = graph.serialise(graph.window_metadata(s))
    return {role: expand(expr) for role, expr in serialised.items()}


def flat(node: Any) -> list[Any]:
    """The constants of a node, lists flattened (the serialiser writes ``['x']`` either way)."""
    out: list[Any] = []
    for c in constants(node):
        out.extend(c if isinstance(c, list) else [c])
    return out


def _entries(node: Any) -> dict[str, Any]:
    """The entries of an ee.Dictionary node (a ``dictionaryValue`` or a ``Dictionary`` call)."""
    if "dictionaryValue" in node:
        return node["dictionaryValue"]["values"]
    return _entries(node["functionInvocationValue"]["arguments"]["input"])


def loaded_ids(tree: Any, kind: str = "ImageCollection.load") -> set[str]:
    return {a["id"]["constantValue"] for a in calls(tree, kind)}


def test_composites_read_s2_sr_harmonized_with_cloud_score_plus() -> None:
    t = trees(spec())
    for role in ("before", "after"):
        assert role_of(t[role]) == role
        assert loaded_ids(t[role]) == {catalog.S2_COLLECTION, catalog.CLOUD_SCORE_PLUS}
        links = calls(t[role], "Image.linkCollection")
        assert links and flat(links[0]["linkedBands"]) == ["cs_cdf"]
        assert calls(t[role], "reduce.median"), "median composite"


def test_cloud_score_fallback_is_one_expression_without_if() -> None:
    """Per pixel: the Cloud Score+ test where ``cs_cdf`` has a value, the SCL classes elsewhere.

    linkCollection leaves ``cs_cdf`` in every image (fully masked without a match), so an ``If`` on
    ``bandNames().contains('cs_cdf')`` never chose SCL, and Earth Engine may evaluate both
    branches of an ``If``: the graph must hold none.
    """
    t = trees(spec())
    for role in ("before", "after", "mask", "metadata"):
        assert not calls(t[role], "If"), role
        assert not calls(t[role], "Image.bandNames"), role
    mask = calls(t["before"], "Image.updateMask")[0]["mask"]["functionInvocationValue"]
    assert mask["functionName"] == "Image.unmask"
    score = mask["arguments"]["input"]["functionInvocationValue"]
    assert score["functionName"] == "Image.gte" and 0.6 in constants(score["arguments"]["image2"])
    assert flat(score["arguments"]["image1"]) == ["cs_cdf"]
    fallback = mask["arguments"]["value"]
    remap = calls(fallback, "Image.remap")[0]
    assert remap["from"]["constantValue"] == list(catalog.SCL_CLEAR_CLASSES)
    assert "SCL" in flat(fallback)


def test_metadata_matches_cloud_score_plus_by_image_id() -> None:
    t = trees(spec())["metadata"]
    for role in ("before", "after"):
        scored = t["dictionaryValue"]["values"][role]
        entry = next(v for k, v in _entries(scored).items() if k == "has_cloud_score")
        assert entry["functionInvocationValue"]["functionName"] == "List.map"
        matches = calls(entry, "Filter.listContains")
        assert matches and matches[0]["rightField"]["constantValue"] == "system:index"
        assert catalog.CLOUD_SCORE_PLUS in loaded_ids(entry)
    assert not calls(trees(spec(cloud_mask="scl"))["metadata"], "List.map"), "SCL only: nothing to match"


def test_windows_filter_dates_half_open_and_bounds() -> None:
    t = trees(spec())
    before_dates = {c for c in constants(t["before"]) if isinstance(c, str) and c[:2] == "20"}
    after_dates = {c for c in constants(t["after"]) if isinstance(c, str) and c[:2] == "20"}
    # The user's end date is inclusive, ee's filterDate end exclusive: one day is added.
    assert {"2024-01-01", "2024-02-01"} <= before_dates
    assert {"2024-11-01", "2024-12-01"} <= after_dates
    assert not after_dates & {"2024-01-01", "2024-02-01"}
    assert calls(t["before"], "Filter.intersects"), "filterBounds on the AOI"
    polygon = calls(t["before"], "GeometryConstructors.Polygon")[0]
    assert [-62.9, -9.9] in constants(polygon)


def test_bands_reprojection_and_types() -> None:
    t = trees(spec(bands=("B04", "B08", "B8A")))
    selected = [a["bandSelectors"].get("constantValue") for a in calls(t["before"], "Image.select")]
    assert ["B4", "B8", "B8A"] in selected
    assert calls(t["before"], "Image.resample")[0]["mode"]["constantValue"] == "bilinear"
    for role in ("before", "after", "mask"):
        reproject = calls(t[role], "Image.reproject")[-1]
        assert reproject["crsTransform"]["constantValue"] == list(TRANSFORM)
        assert "EPSG:32720" in constants(reproject["crs"])
    assert calls(t["before"], "Image.toUint16") and calls(t["mask"], "Image.toUint8")
    assert 0 in constants(calls(t["before"], "Image.unmask")[0])


def test_hansen_label_span_treecover_and_unknown() -> None:
    t = trees(spec(treecover_threshold=25))
    mask = t["mask"]
    assert role_of(mask) == "mask"
    assert {catalog.HANSEN_GFC} == {a["id"]["constantValue"] for a in calls(mask, "Image.load")}
    assert catalog.HANSEN_GFC.endswith(f"{catalog.HANSEN_LAST_YEAR}_v1_13")
    gte = [constants(a["image2"]) for a in calls(mask, "Image.gte")]
    lte = [constants(a["image2"]) for a in calls(mask, "Image.lte")]
    assert [24] in gte and [24] in lte  # lossyear 24 = 2024: the span of both windows
    assert [25] in gte  # treecover2000 >= 25
    assert 255 in constants(calls(mask, "Image.where")[-1])
    # The unknown pixels come from the clear-observation counts of both windows.
    assert loaded_ids(mask) == {catalog.S2_COLLECTION, catalog.CLOUD_SCORE_PLUS}


def test_label_years_clip_to_the_gfc_version_and_warn() -> None:
    late = spec(before=(dt.date(2025, 6, 1), dt.date(2025, 7, 1)), after=(dt.date(2026, 6, 1), dt.date(2026, 7, 1)))
    assert graph.loss_years(late) == (25, 25)
    assert "2026" in graph.label_warnings(late)[0]
    assert graph.label_warnings(spec()) == []


def test_scl_only_and_no_label() -> None:
    t = trees(spec(cloud_mask="scl", label="none"))
    assert "mask" not in t
    assert loaded_ids(t["before"]) == {catalog.S2_COLLECTION}
    assert not calls(t["before"], "If")
    assert calls(t["before"], "Image.remap")


def test_metadata_lists_ids_dates_clouds_and_clear_share() -> None:
    t = trees(spec())["metadata"]
    keys = set(t["dictionaryValue"]["values"])
    assert keys == {"before", "after"}
    props = {c for c in constants(t) if isinstance(c, str)}
    assert {"system:index", "system:time_start", "CLOUDY_PIXEL_PERCENTAGE"} <= props
    assert calls(t, "Image.reduceRegion")


def test_graphs_build_offline_without_any_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    first = trees(spec())
    again = trees(spec())
    assert first == again
    import ee

    with graph.offline_session(), pytest.raises(ee.EEException):
        ee.Image(1).getInfo()  # would need a server: refused, not sent
