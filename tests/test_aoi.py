"""AOI loading: validation, area in the UTM zone, aligned grids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasterio.warp import transform_geom
from shapely.geometry import box, mapping, shape

from planet_sentinel.aoi import aligned_grid, load_aoi
from planet_sentinel.errors import SentinelError

UTM_20S = "EPSG:32720"  # Amazon, Rondonia


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _utm_square_lonlat(x0: float = 500_123.0, y0: float = 8_900_077.0, side: float = 1000.0):
    """A side x side metre square in UTM 20S, as a lon/lat polygon."""
    return shape(transform_geom(UTM_20S, "EPSG:4326", mapping(box(x0, y0, x0 + side, y0 + side))))


def test_feature_collection_area_zone_and_grid(tmp_path: Path) -> None:
    poly = _utm_square_lonlat()
    path = _write(
        tmp_path / "aoi.geojson",
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": mapping(poly)}],
        },
    )
    aoi = load_aoi(path)
    assert aoi.utm_crs == UTM_20S
    assert aoi.area_km2 == pytest.approx(1.0, rel=1e-3)
    grid = aoi.grid(10)
    assert grid.crs.to_string() == UTM_20S
    assert grid.resolution == (10.0, 10.0)
    assert grid.transform.c % 10 == 0 and grid.transform.f % 10 == 0
    left, bottom, right, top = grid.bounds
    # covers the square (500123..501123, 8900077..8901077), snapped outwards to 10 m
    assert (left, bottom, right, top) == (500_120.0, 8_900_070.0, 501_130.0, 8_901_080.0)
    assert (grid.width, grid.height) == (101, 101)
    coarse = aoi.grid(20)
    assert coarse.transform.c % 20 == 0 and coarse.width == 51


def test_feature_and_bare_geometry_and_multipolygon(tmp_path: Path) -> None:
    a = _utm_square_lonlat()
    b = _utm_square_lonlat(x0=510_000.0)
    feature = _write(tmp_path / "f.geojson", {"type": "Feature", "geometry": mapping(a)})
    bare = _write(tmp_path / "g.geojson", mapping(a))
    multi = _write(
        tmp_path / "m.geojson",
        {
            "type": "MultiPolygon",
            "coordinates": [mapping(a)["coordinates"], mapping(b)["coordinates"]],
        },
    )
    assert load_aoi(feature).area_km2 == pytest.approx(1.0, rel=1e-3)
    assert load_aoi(bare).geometry.equals(load_aoi(feature).geometry)
    m = load_aoi(multi)
    assert m.geometry.geom_type == "MultiPolygon"
    assert m.area_km2 == pytest.approx(2.0, rel=1e-3)
    assert m.grid().width > 1000  # spans both squares, 10 km apart


def test_two_features_are_merged(tmp_path: Path) -> None:
    a, b = _utm_square_lonlat(), _utm_square_lonlat(x0=500_623.0)  # half overlapping
    path = _write(
        tmp_path / "two.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": mapping(a)},
                {"type": "Feature", "geometry": mapping(b)},
            ],
        },
    )
    assert load_aoi(path).area_km2 == pytest.approx(1.5, rel=1e-3)


def test_aligned_grid_keeps_aligned_bounds() -> None:
    grid = aligned_grid("EPSG:32631", (400_000.0, 5_000_000.0, 400_100.0, 5_000_050.0), 10)
    assert (grid.width, grid.height) == (10, 5)
    assert grid.bounds == (400_000.0, 5_000_000.0, 400_100.0, 5_000_050.0)


def test_projected_coordinates_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "utm.geojson", mapping(box(500_000, 8_900_000, 501_000, 8_901_000)))
    with pytest.raises(SentinelError, match="looks projected"):
        load_aoi(path)


def test_declared_projected_crs_rejected(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32720"}},
        "features": [{"type": "Feature", "geometry": mapping(_utm_square_lonlat())}],
    }
    with pytest.raises(SentinelError, match="RFC 7946"):
        load_aoi(_write(tmp_path / "crs.geojson", doc))


def test_self_intersecting_polygon_rejected(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[-63, -10], [-62.9, -9.9], [-62.9, -10], [-63, -9.9], [-63, -10]]]}
    with pytest.raises(SentinelError, match="Self-intersection"):
        load_aoi(_write(tmp_path / "bowtie.geojson", bowtie))


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [-63.0, -10.0]},
        {"type": "LineString", "coordinates": [[-63.0, -10.0], [-62.9, -9.9]]},
    ],
)
def test_non_polygon_rejected(tmp_path: Path, geometry: dict) -> None:
    with pytest.raises(SentinelError, match=f"is a {geometry['type']}"):
        load_aoi(_write(tmp_path / "x.geojson", {"type": "Feature", "geometry": geometry}))


def test_empty_inputs_rejected(tmp_path: Path) -> None:
    empty_fc = _write(tmp_path / "e.geojson", {"type": "FeatureCollection", "features": []})
    with pytest.raises(SentinelError, match="empty"):
        load_aoi(empty_fc)
    no_geom = _write(tmp_path / "n.geojson", {"type": "Feature", "geometry": None})
    with pytest.raises(SentinelError, match="no geometry"):
        load_aoi(no_geom)
    empty_poly = _write(tmp_path / "p.geojson", {"type": "Polygon", "coordinates": []})
    with pytest.raises(SentinelError, match="empty"):
        load_aoi(empty_poly)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SentinelError, match="no such file"):
        load_aoi(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(SentinelError, match="not valid GeoJSON"):
        load_aoi(bad)
    with pytest.raises(SentinelError, match="GeoJSON object"):
        load_aoi(_write(tmp_path / "list.geojson", [1, 2]))  # type: ignore[arg-type]


def test_swapped_lat_lon_hint(tmp_path: Path) -> None:
    # (lat, lon) order near 45N 120E: 120 is out of latitude range
    poly = {"type": "Polygon", "coordinates": [[[45, 120], [45.1, 120], [45.1, 120.1], [45, 120]]]}
    with pytest.raises(SentinelError, match=r"\(lat, lon\)"):
        load_aoi(_write(tmp_path / "swap.geojson", poly))
