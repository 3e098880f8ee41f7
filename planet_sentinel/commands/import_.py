"""`sentinel import`: real rasters (single-band files, OSCD cities) into the scene contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import RAW_DIR, F, SentinelGroup, emit, output_options, parse_bands


@click.group(name="import", cls=SentinelGroup)
def import_() -> None:
    """Bring real rasters into the scene contract (UTM, 10 m, uint16, named bands)."""


def _date_files(date: str, help_text: str) -> Callable[[F], F]:
    """--before / --after: the single-band rasters of one date (repeatable)."""
    return click.option(
        f"--{date}", date, multiple=True, required=True, type=click.Path(dir_okay=False), help=help_text
    )


@import_.command(name="files")
@click.option("--name", required=True, help="Scene name for the outputs.")
@_date_files("before", "Single-band rasters of the before date (repeat; band read from the file name).")
@_date_files("after", "Single-band rasters of the after date (repeat).")
@click.option("--mask", type=click.Path(dir_okay=False), help="Optional georeferenced loss mask.")
@click.option("--bands", help="Comma-separated bands to stack (default B02,B03,B04,B08,B11,B12).")
@click.option("--crs", help="Target CRS (default: the 10 m band's, or its UTM zone if geographic).")
@click.option(
    "--add-offset",
    type=int,
    default=0,
    show_default=True,
    help="Added to every valid value, e.g. -1000 for L2A processing baseline >= 04.00.",
)
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@output_options
def import_files_cmd(
    name: str,
    before: tuple[str, ...],
    after: tuple[str, ...],
    mask: str | None,
    bands: str | None,
    crs: str | None,
    add_offset: int,
    out_dir: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Stack single-band rasters (any mix of 10/20/60 m) onto one 10 m grid."""
    from planet_sentinel.bands import DEFAULT_BANDS, validate_bands
    from planet_sentinel.sources.files import import_files

    band_list = parse_bands(bands) if bands else DEFAULT_BANDS
    scene = import_files(
        [Path(p) for p in before],
        [Path(p) for p in after],
        name,
        Path(out_dir),
        bands=validate_bands(band_list),
        mask=Path(mask) if mask else None,
        crs=crs,
        add_offset=add_offset,
        overwrite=overwrite,
    )
    emit(scene_result(scene), as_json)


@import_.command(name="oscd")
@click.argument("city_dir", type=click.Path(file_okay=False))
@click.option("--name", help="Scene name (default: the city folder's name).")
@click.option("--out-dir", type=click.Path(file_okay=False), default=str(RAW_DIR), show_default=True)
@output_options
def import_oscd_cmd(city_dir: str, name: str | None, out_dir: str, overwrite: bool, as_json: bool) -> None:
    """Turn an OSCD city folder (imgs_1, imgs_2, cm) into a scene pair and mask."""
    from planet_sentinel.sources.files import import_oscd

    scene = import_oscd(Path(city_dir), Path(out_dir), name=name, overwrite=overwrite)
    emit(scene_result(scene), as_json)


def scene_result(scene: Any) -> dict[str, Any]:
    return {
        "before": scene.before,
        "after": scene.after,
        "mask": scene.mask,
        "quicklook": scene.quicklook,
        "grid": scene.grid.describe(),
    }
