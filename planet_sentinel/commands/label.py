"""`sentinel label`: make and check loss masks."""

from __future__ import annotations

from pathlib import Path

import click

from planet_sentinel.commands.common import (
    SentinelGroup,
    band_order,
    emit,
    json_option,
    overwrite_option,
    scene_bands_option,
)


@click.group(cls=SentinelGroup)
def label() -> None:
    """Make and check loss masks (uint8: 0 no loss, 1 loss, 255 unknown)."""


@label.command(name="from-vector")
@click.argument("vector", type=click.Path(dir_okay=False))
@click.option("--scene", required=True, type=click.Path(dir_okay=False), help="Scene whose grid the mask takes.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Mask GeoTIFF to write.")
@click.option("--layer", help="Layer name for multi-layer vector files (GeoPackage).")
@click.option("--class-field", help="Attribute holding loss/unknown; without it every polygon is loss.")
@click.option("--all-touched", is_flag=True, help="Burn every pixel a polygon touches.")
@overwrite_option
@json_option
def label_from_vector(
    vector: str,
    scene: str,
    out: str,
    layer: str | None,
    class_field: str | None,
    all_touched: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Rasterize analyst polygons (GeoJSON or any OGR vector) onto a scene's grid."""
    from planet_sentinel.labels import mask_from_vector

    summary = mask_from_vector(
        Path(vector),
        Path(scene),
        Path(out),
        layer=layer,
        class_field=class_field,
        all_touched=all_touched,
        overwrite=overwrite,
    )
    emit(summary.to_dict(), as_json)


@label.command(name="from-spectral")
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--ndvi-drop", type=float, default=0.25, show_default=True)
@click.option("--nbr-drop", type=float, default=0.3, show_default=True)
@click.option(
    "--forest-ndvi", type=float, default=0.65, show_default=True, help="Before-date NDVI that counts as forest."
)
@click.option("--mmu-ha", type=float, default=0.5, show_default=True, help="Minimum mapping unit in hectares.")
@scene_bands_option
@overwrite_option
@json_option
def label_from_spectral(
    before: str,
    after: str,
    out: str,
    ndvi_drop: float,
    nbr_drop: float,
    forest_ndvi: float,
    mmu_ha: float,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Pseudo-labels from NDVI and NBR drops, to bootstrap before analysts review."""
    from planet_sentinel.labels import mask_from_spectral

    summary = mask_from_spectral(
        Path(before),
        Path(after),
        Path(out),
        ndvi_drop=ndvi_drop,
        nbr_drop=nbr_drop,
        forest_ndvi=forest_ndvi,
        mmu_ha=mmu_ha,
        overwrite=overwrite,
        order=band_order(scene_bands),
    )
    emit(summary.to_dict(), as_json)


@label.command(name="check")
@click.option("--before", required=True, type=click.Path(dir_okay=False))
@click.option("--after", required=True, type=click.Path(dir_okay=False))
@click.option("--mask", required=True, type=click.Path(dir_okay=False))
@click.option("--png", type=click.Path(dir_okay=False), help="Overlay quicklook to write.")
@scene_bands_option
@json_option
def label_check(before: str, after: str, mask: str, png: str | None, scene_bands: str | None, as_json: bool) -> None:
    """Check a mask against its scenes: same grid, class balance, unknown share, overlay PNG."""
    from planet_sentinel.labels import check_labels

    order = band_order(scene_bands)
    report = check_labels(Path(before), Path(after), Path(mask), Path(png) if png else None, order=order)
    emit(report.to_dict(), as_json)
