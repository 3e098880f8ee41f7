"""`sentinel label`: make and check loss masks.

Settings: flag > SENTINEL_LABEL_<FIELD> > params.yaml `label:` > planet_sentinel.labels.LabelConfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from planet_sentinel.commands.common import (
    F,
    SentinelGroup,
    band_order,
    emit,
    json_option,
    output_options,
    scene_bands_option,
    scene_output_options,
)

if TYPE_CHECKING:
    from click.types import OptionHelpExtra
    from pydantic.fields import FieldInfo

    from planet_sentinel.labels import LabelConfig


class LabelSetting(click.Option):
    """An option for a :class:`~planet_sentinel.labels.LabelConfig` field of the same name.

    Its value is None unless given, so SENTINEL_LABEL_* and params.yaml apply; its help is the
    field's description and default, read only when help is rendered (`sentinel --help` imports
    no pydantic)."""

    def _field(self) -> FieldInfo:
        from planet_sentinel.labels import LabelConfig

        return LabelConfig.model_fields[str(self.name)]

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        description = self._field().description
        if self.help is None and description:
            self.help = f"{description[0].upper()}{description[1:]}."
        return super().get_help_record(ctx)

    def get_help_extra(self, ctx: click.Context) -> OptionHelpExtra:
        extra = super().get_help_extra(ctx)
        default = self._field().default
        if default is not None and default is not False:
            extra["default"] = str(default)
        return extra


def scene_pair_options(function: F) -> F:
    """--before and --after: the scene pair a mask is made from or checked against."""
    after = click.option("--after", required=True, type=click.Path(dir_okay=False), help="After-date scene.")
    before = click.option("--before", required=True, type=click.Path(dir_okay=False), help="Before-date scene.")
    return before(after(function))


def _settings(options: dict[str, object]) -> LabelConfig:
    from planet_sentinel.config import resolve
    from planet_sentinel.labels import SECTION, LabelConfig

    return resolve(LabelConfig, SECTION, options)


@click.group(cls=SentinelGroup)
def label() -> None:
    """Make and check loss masks (uint8: 0 no loss, 1 loss, 255 unknown)."""


@label.command(name="from-vector")
@click.argument("vector", type=click.Path(dir_okay=False))
@click.option("--scene", required=True, type=click.Path(dir_okay=False), help="Scene whose grid the mask takes.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Mask GeoTIFF to write.")
@click.option("--layer", help="Layer name for multi-layer vector files (GeoPackage).")
@click.option("--class-field", cls=LabelSetting)
@click.option("--all-touched", cls=LabelSetting, is_flag=True, default=None)
@output_options
def label_from_vector(
    vector: str, scene: str, out: str, layer: str | None, overwrite: bool, as_json: bool, **options: Any
) -> None:
    """Rasterize analyst polygons (GeoJSON or any OGR vector) onto a scene's grid."""
    from planet_sentinel.labels import mask_from_vector

    settings = _settings(options)
    summary = mask_from_vector(Path(vector), Path(scene), Path(out), settings, layer=layer, overwrite=overwrite)
    emit(summary.to_dict(), as_json)


@label.command(name="from-spectral")
@scene_pair_options
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--ndvi-drop", cls=LabelSetting, type=float)
@click.option("--nbr-drop", cls=LabelSetting, type=float)
@click.option("--forest-ndvi", cls=LabelSetting, type=float)
@click.option("--mmu-ha", cls=LabelSetting, type=float)
@scene_output_options
def label_from_spectral(
    before: str, after: str, out: str, scene_bands: str | None, overwrite: bool, as_json: bool, **options: Any
) -> None:
    """Pseudo-labels from NDVI and NBR drops, to bootstrap before analysts review."""
    from planet_sentinel.labels import mask_from_spectral

    order, settings = band_order(scene_bands), _settings(options)
    summary = mask_from_spectral(Path(before), Path(after), Path(out), settings, overwrite=overwrite, order=order)
    emit(summary.to_dict(), as_json)


@label.command(name="check")
@scene_pair_options
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
