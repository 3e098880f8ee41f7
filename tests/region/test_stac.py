"""`region stac`: one Item per tile and the region's Collection, valid STAC, validated without the network."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from planet_sentinel.errors import SentinelError
from planet_sentinel.region.plan import RegionPlan
from planet_sentinel.region.stac import region_catalog, validate_offline
from tests.region.conftest import PERIOD, alert, write_alerts


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("STAC validation tried to reach the network")


def test_each_tile_is_an_item_of_the_region_collection_validated_offline(
    two_tile_plan: tuple[RegionPlan, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, plan_path = two_tile_plan
    west, east = plan.tiles
    tiles = tmp_path / "tiles"
    write_alerts(tiles, west.id, [alert(box(500_600, 8_900_400, 500_700, 8_900_500), west.crs, west.id)])
    (tiles / west.id / f"{west.id}_probability.tif").write_bytes(b"II*\x00")  # a file to point at
    (tiles / f"{east.id}_failed.txt").parent.mkdir(parents=True, exist_ok=True)
    (tiles / f"{east.id}_failed.txt").write_text("predict: out of memory")
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    result = region_catalog(plan_path, tiles, tmp_path / "stac", name="rondonia")
    assert result["items"] == 1 and east.id in result["skipped"] and "out of memory" in result["skipped"][east.id]
    collection = json.loads((tmp_path / "stac" / "collection.json").read_text())
    assert collection["type"] == "Collection" and collection["id"] == "rondonia"
    assert collection["extent"]["temporal"]["interval"][0][0].startswith(PERIOD[0])
    item_path = tmp_path / "stac" / west.id / f"{west.id}.json"
    item = json.loads(item_path.read_text())
    assert item["properties"]["sentinel:epsg"] == 32720 and item["properties"]["sentinel:alerts"] == 1
    assert item["properties"]["start_datetime"].startswith(PERIOD[0]) and item["properties"]["datetime"] is None
    assert sorted(item["assets"]) == ["alerts", "probability"]  # the loss COG is not there: no asset
    assert (item_path.parent / item["assets"]["alerts"]["href"]).resolve() == (
        tiles / west.id / f"{west.id}_alerts.geojson"
    ).resolve()
    assert validate_offline(item).endswith("item-spec/json-schema/item.json")
    assert validate_offline(collection).endswith("collection-spec/json-schema/collection.json")


def test_invalid_or_unshippable_stac_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "t",
        "geometry": None,
        "properties": {"datetime": None},  # neither datetime nor start/end: invalid
        "links": [],
        "assets": {},
    }
    with pytest.raises(SentinelError, match="item 't' is not valid STAC"):
        validate_offline(item)
    with pytest.raises(SentinelError, match="not available offline"):
        validate_offline(
            {**item, "stac_extensions": ["https://stac-extensions.github.io/projection/v2.0.0/schema.json"]}
        )
