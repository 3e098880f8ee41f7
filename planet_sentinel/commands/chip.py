"""`sentinel chip`: tile a scene pair into chips with a manifest and spatially disjoint splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import SentinelGroup, band_order, emit, output_options, scene_output_options


@click.group(cls=SentinelGroup, invoke_without_command=True)
@click.option("--before", type=click.Path(dir_okay=False), help="Before-date scene.")
@click.option("--after", type=click.Path(dir_okay=False), help="After-date scene.")
@click.option("--mask", type=click.Path(dir_okay=False), help="Loss mask (omit for unlabelled data).")
@click.option("--out-dir", type=click.Path(file_okay=False), help="Chips directory to create.")
@click.option("--size", type=int, help="Chip side in pixels (default 256).")
@click.option("--overlap", type=int, help="Pixels shared by neighbouring chips (default 0).")
@click.option("--max-invalid", type=float, help="Drop chips with more nodata/unknown than this share.")
@click.option(
    "--split-block",
    type=int,
    help="Side in pixels of the blocks splits are assigned to (default 512 from params.yaml, made smaller for a "
    "scene too small to give every split chips; given here, used as is).",
)
@click.option("--seed", type=int, help="Seed for the split assignment.")
@scene_output_options
@click.pass_context
def chip(
    ctx: click.Context,
    /,
    before: str | None,
    after: str | None,
    mask: str | None,
    out_dir: str | None,
    scene_bands: str | None,
    overwrite: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Tile a scene pair into chips with a manifest and spatially disjoint splits."""
    if ctx.invoked_subcommand is not None:
        return
    if not (before and after and out_dir):
        missing = [n for n, v in (("--before", before), ("--after", after), ("--out-dir", out_dir)) if not v]
        raise click.UsageError(f"missing option(s) {', '.join(missing)}", ctx)
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.config import resolve

    config = resolve(ChipConfig, "chip", options)
    summary = chip_scene(
        Path(before),
        Path(after),
        Path(mask) if mask else None,
        Path(out_dir),
        config,
        overwrite=overwrite,
        order=band_order(scene_bands),
        adapt_split_block=options.get("split_block") is None,
    )
    emit(summary.to_dict(), as_json)


@chip.command(name="export")
@click.option("--chips-dir", required=True, type=click.Path(file_okay=False))
@click.option("--index", required=True, type=int, help="Chip index from the manifest.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False))
@output_options
def chip_export(chips_dir: str, index: int, out_dir: str, overwrite: bool, as_json: bool) -> None:
    """Write one chip back as georeferenced GeoTIFFs."""
    from planet_sentinel.chips import export_chip

    emit(export_chip(chips_dir, index, out_dir, overwrite=overwrite), as_json)
