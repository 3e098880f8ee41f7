"""The emulator's per-image evaluation follows Earth Engine's documented rules, and the ingest
graphs hold up under them: images without a Cloud Score+ match fall back to SCL.

Graphs are built offline with the real client and serialised as a request would carry them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from planet_sentinel.sources.gee import catalog, graph
from tests.sources.test_gee_graph import spec
from tools.emulators import ee_eval
from tools.emulators.earthengine import CLOUD_SCORE_BANDS, S2_BANDS, expand

WINDOW = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


def catalogue(ids: list[str], scored: set[str]) -> ee_eval.Catalogue:
    s2 = [ee_eval.Img(dict.fromkeys(S2_BANDS, ee_eval.DATA), {"system:index": i}) for i in ids]
    cs = [ee_eval.Img(dict.fromkeys(CLOUD_SCORE_BANDS, ee_eval.DATA), {"system:index": i}) for i in ids if i in scored]
    return ee_eval.Catalogue({catalog.S2_COLLECTION: s2, catalog.CLOUD_SCORE_PLUS: cs})


def evaluate(build: Any, cat: ee_eval.Catalogue) -> Any:
    """Build an ee object offline (``build()``), serialise it, evaluate it over ``cat``."""
    with graph.offline_session():
        tree = expand(graph.serialise(build()))
    return ee_eval.Evaluator(cat).evaluate(tree)


def old_if_fallback(image: Any) -> Any:
    """The fallback ingest used before: chosen per image with ``If`` on the band names."""
    import ee

    has_score = image.bandNames().contains(catalog.CLOUD_SCORE_BAND)
    score = image.select(catalog.CLOUD_SCORE_BAND).gte(0.6)
    scl = image.select("SCL").remap(list(catalog.SCL_CLEAR_CLASSES), [1] * 4, 0)
    return image.updateMask(ee.Image(ee.Algorithms.If(has_score, score, scl))).select(["B2"])


def test_link_collection_without_a_match_adds_the_band_fully_masked() -> None:
    import ee

    def build() -> Any:
        linked = ee.ImageCollection(catalog.S2_COLLECTION).linkCollection(
            ee.ImageCollection(catalog.CLOUD_SCORE_PLUS), [catalog.CLOUD_SCORE_BAND]
        )
        return linked.map(lambda i: i.set("has", i.bandNames().contains(catalog.CLOUD_SCORE_BAND)))

    images = evaluate(build, catalogue(["a", "b"], scored={"b"}))
    assert [i.bands["cs_cdf"] for i in images] == [ee_eval.MASKED, ee_eval.DATA]
    assert [i.props["has"] for i in images] == [True, True], "the band is there either way"


def test_if_evaluates_both_branches_and_reads_conditions_like_earth_engine() -> None:
    import ee

    cat = catalogue([], set())
    for condition in (True, False):
        with pytest.raises(ee_eval.EvalError, match="Pattern 'missing' did not match any bands"):
            evaluate(lambda c=condition: ee.Algorithms.If(c, ee.Image(1), ee.Image(1).select("missing")), cat)
    assert evaluate(lambda: ee.Algorithms.If(ee.List([]), "t", "f"), cat) == "f"
    assert evaluate(lambda: ee.Algorithms.If(ee.Number(0), "t", "f"), cat) == "f"
    assert evaluate(lambda: ee.Algorithms.If("x", "t", "f"), cat) == "t"
    assert [ee_eval.truthy(v) for v in (float("nan"), {}, "", None, 2, [0])] == [False] * 4 + [True] * 2


def test_images_without_cloud_score_fall_back_to_scl() -> None:
    """Under linkCollection's rules the old ``If`` dropped unscored images; the graph keeps them."""
    import ee

    cat = catalogue(["a", "b", "c"], scored={"c"})
    new = evaluate(lambda: graph.masked_collection(spec(), WINDOW), cat)
    assert [i.contributes() for i in new] == [True, True, True]
    assert set(new[0].bands) == {"B2", "B3", "B4", "B8", "B11", "B12"}

    def old() -> Any:
        return graph.link_cloud_score(ee.ImageCollection(catalog.S2_COLLECTION)).map(old_if_fallback)

    assert [i.contributes() for i in evaluate(old, cat)] == [False, False, True]


def test_cloud_score_matches_are_read_by_image_id() -> None:
    import ee

    cat = catalogue(["a", "b", "c"], scored={"a", "c"})
    matches = evaluate(lambda: graph.cloud_score_matches(ee.ImageCollection(catalog.S2_COLLECTION)), cat)
    assert matches == [True, False, True]


def test_unknown_algorithms_and_collections_fail_loudly() -> None:
    import ee

    cat = catalogue(["a"], set())
    with pytest.raises(ee_eval.EvalError, match="Image.focal_max"):
        evaluate(lambda: ee.ImageCollection(catalog.S2_COLLECTION).map(lambda i: i.focal_max(1)), cat)
    with pytest.raises(ee_eval.EvalError, match="LANDSAT"):
        evaluate(lambda: ee.ImageCollection("LANDSAT/LC09/C02/T1_L2").map(lambda i: i.select("SR_B2")), cat)
