"""`sentinel region stac`: every tile's outputs as a STAC Item, the region as a Collection, validated offline.

Items are core STAC 1.1 (pystac's default version) without extensions: the tile's EPSG code and
alert count are plain ``sentinel:`` properties, so validation needs only the core schemas. pystac
ships those (``pystac/validation/jsonschemas/``: item, catalog, collection, the item-spec
fragments and GeoJSON Feature/Geometry; ``local_validator.get_local_schema_cache``, pystac
1.15.2), but its ``JsonSchemaSTACValidator`` fetches any schema missing from that cache over
HTTP (``StacIO.default().read_text(uri)`` in ``stac_validator.py``), e.g. every extension's.
:func:`validate_offline` validates against the shipped schemas only and refuses what they do not
cover, so a test or an air-gapped runner never reaches for the network.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.region.plan import PlanTile, RegionPlan
from planet_sentinel.region.tiles import ALERTS_SUFFIX, TileOutput, find_outputs, read_tiles

if TYPE_CHECKING:
    import pystac

#: Asset key -> (file suffix, media type, title). COG media type as the STAC best practices give it.
ASSETS = {
    "probability": ("_probability.tif", "image/tiff; application=geotiff; profile=cloud-optimized", "Loss probability"),
    "loss": ("_loss.tif", "image/tiff; application=geotiff; profile=cloud-optimized", "Loss mask"),
    "alerts": (ALERTS_SUFFIX, "application/geo+json", "Alerts"),
}


def tile_item(tile: PlanTile, output: TileOutput, files: dict[str, Path], period: tuple[str, str]) -> pystac.Item:
    """The STAC Item of one tile: its core as geometry, the period as start/end, its files as assets."""
    from planet_sentinel.extras import require

    require("pystac", "stac", "STAC catalogues")  # the install line when it is missing
    import pystac
    from shapely.geometry import shape

    start, end = (dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC) for d in period)
    core = shape(tile.core)
    item = pystac.Item(
        id=tile.id,
        geometry=tile.core,
        bbox=list(core.bounds),
        datetime=None,
        start_datetime=start,
        end_datetime=end,
        properties={
            "sentinel:epsg": tile.epsg,
            "sentinel:alerts": len(output.alerts.features) if output.alerts else 0,
        },
    )
    for key, path in files.items():
        _suffix, media_type, title = ASSETS[key]
        roles = ["data"] if key != "alerts" else ["data", "vector"]
        item.add_asset(key, pystac.Asset(href=str(path.resolve()), media_type=media_type, title=title, roles=roles))
    return item


def tile_period(output: TileOutput, given: tuple[str | None, str | None]) -> tuple[str, str]:
    """(start, end) of a tile's Item: the dates given, else those of its alerts."""
    after, before = given
    features = output.alerts.features if output.alerts else []
    if features:
        after = after or min(f.properties.observed_after for f in features)
        before = before or max(f.properties.observed_before for f in features)
    if not after or not before:
        raise SentinelError(
            f"tile {output.tile}: no alerts to read the period from; "
            "give it with --observed-after and --observed-before"
        )
    return after, before


def region_catalog(
    plan_path: str | Path,
    tiles_dir: str | Path,
    out_dir: str | Path,
    name: str = "region",
    observed_after: str | None = None,
    observed_before: str | None = None,
) -> dict[str, Any]:
    """Write the region's Collection with one Item per ok tile into ``out_dir``, validated offline."""
    from planet_sentinel.extras import require

    require("pystac", "stac", "STAC catalogues")  # the install line when it is missing
    import pystac

    plan = RegionPlan.load(plan_path)
    tiles_dir, out_dir = Path(tiles_dir), Path(out_dir)
    files = {key: find_outputs(tiles_dir, suffix) for key, (suffix, _m, _t) in ASSETS.items()}
    items, skipped = [], {}
    for output in read_tiles([t.id for t in plan.tiles], tiles_dir):
        if output.status != "ok":
            skipped[output.tile] = f"{output.status}: {output.reason}"
            continue
        assets = {key: found[output.tile][0] for key, found in files.items() if output.tile in found}
        period = tile_period(output, (observed_after, observed_before))
        items.append(tile_item(plan.tile(output.tile), output, assets, period))
    if not items:
        raise SentinelError(
            f"{tiles_dir}: no tile of {plan_path} has outputs to catalogue ({len(skipped)} failed or missing)"
        )
    starts = [d for d in (i.common_metadata.start_datetime for i in items) if d is not None]
    ends = [d for d in (i.common_metadata.end_datetime for i in items) if d is not None]
    collection = pystac.Collection(
        id=name,
        description=f"Forest loss alerts of {name}: {len(items)} tiles of {plan.config.tile_km:g} km",
        extent=pystac.Extent(
            pystac.SpatialExtent([_union_bbox([i.bbox for i in items if i.bbox])]),
            pystac.TemporalExtent([[min(starts), max(ends)]]),
        ),
        license="other",
    )
    collection.add_items(items)
    collection.normalize_hrefs(str(out_dir.resolve()))
    collection.make_all_asset_hrefs_relative()
    for obj in [collection, *items]:
        validate_offline(obj.to_dict())
    collection.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return {"collection": str(out_dir / "collection.json"), "items": len(items), "skipped": skipped}


def _union_bbox(boxes: list[list[float]]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def validate_offline(stac: dict[str, Any]) -> str:
    """Validate a STAC Item, Collection or Catalog dict against the schemas pystac ships; the schema's URI.

    Raises:
        SentinelError: the object is invalid (the best-matching error), of another STAC version
            than the shipped schemas, or declares an extension whose schema is not shipped.
    """
    import jsonschema
    from pystac.validation.local_validator import VERSION, get_local_schema_cache
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable

    kind = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}.get(str(stac.get("type")))
    if kind is None:
        raise SentinelError(f"not a STAC Item, Collection or Catalog: type {stac.get('type')!r}")
    if stac.get("stac_version") != VERSION:
        raise SentinelError(f"STAC version {stac.get('stac_version')!r}: only {VERSION} validates offline")
    if stac.get("stac_extensions"):
        raise SentinelError(f"extension schemas {stac['stac_extensions']} are not available offline")
    cache = get_local_schema_cache()
    uri = f"https://schemas.stacspec.org/v{VERSION}/{kind}-spec/json-schema/{kind}.json"
    registry: Registry[Any] = Registry().with_resources([(k, Resource.from_contents(v)) for k, v in cache.items()])
    validator = jsonschema.Draft7Validator(cache[uri], registry=registry)
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(stac))
    except Unresolvable as exc:  # a $ref outside the shipped schemas: would need the network
        raise SentinelError(f"{kind} {stac.get('id')!r}: schema {exc} is not available offline") from exc
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise SentinelError(f"{kind} {stac.get('id')!r} is not valid STAC {VERSION}: {where}: {error.message}")
    return uri
