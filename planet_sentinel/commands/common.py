"""What every `sentinel` command shares: the error-to-exit-code group, result printing, common options.

Only click is imported at module level, so `sentinel --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from planet_sentinel.registry import CHAMPION_URI  # registry imports mlflow and numpy lazily
from planet_sentinel.workspace import LOCAL

if TYPE_CHECKING:
    from planet_sentinel.bands import BandOrder

RAW_DIR = Path(LOCAL.raw)
F = TypeVar("F", bound=Callable[..., Any])


class SentinelGroup(click.Group):
    """A click group that turns library errors into clean one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from planet_sentinel.errors import SentinelError

        try:
            return super().invoke(ctx)
        except SentinelError as exc:
            raise click.ClickException(str(exc)) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Pipeline order, not alphabetical: the help reads as the flow of the data.
        return list(self.commands)


def emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        for key, value in result.items():
            click.echo(f"{key}: {value}")


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator (listed in --help in the order given), so commands
    that take the same group of options spell it once."""

    def decorate(function: F) -> F:
        for option in reversed(decorators):
            function = option(function)
        return function

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON line.")
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
#: --overwrite and --json: the tail of every command that writes outputs and reports them.
output_options = options(overwrite_option, json_option)


def model_option(help_text: str = "MLflow model URI or a local bundle file.") -> Callable[[F], F]:
    """--model on the commands that use a trained model (the champion unless told)."""
    return click.option("--model", "model_spec", default=CHAMPION_URI, show_default=True, help=help_text)


def training_options(baseline_help: str) -> Callable[[F], F]:
    """The options of planet_sentinel.train.TrainConfig (and the data they train on), shared by
    `sentinel train` and `sentinel kaggle train` so both accept the same settings."""
    return options(
        click.option(
            "--data-dir", required=True, type=click.Path(file_okay=False), help="Chips root (searched recursively)."
        ),
        click.option(
            "--baseline",
            "baseline_path",
            type=click.Path(dir_okay=False),
            default=str(LOCAL.baseline),
            show_default=True,
            help=baseline_help,
        ),
        click.option("--epochs", type=int, help="Maximum epochs."),
        click.option("--batch-size", type=int),
        click.option("--lr", type=float, help="Peak learning rate (one-cycle schedule)."),
        click.option("--base", type=int, help="Channels of the first encoder level."),
        click.option("--crop", type=int, help="Random training crop side in pixels."),
        click.option("--variant", type=click.Choice(["diff", "conc"]), help="FC-Siam-diff or FC-Siam-conc."),
        click.option("--max-minutes", type=float, help="Stop training after this wall time."),
        click.option("--seed", type=int),
    )


def parse_bands(text: str) -> tuple[str, ...]:
    """A comma-separated --bands value as validated Sentinel-2 band names (a usage error if not)."""
    from planet_sentinel.bands import validate_bands

    try:
        return validate_bands([b for b in text.split(",") if b.strip()])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands") from exc


def band_order(text: str | None) -> BandOrder:
    """The band order stated with --bands (for scenes without band descriptions) as a BandOrder."""
    from planet_sentinel.bands import BandOrder

    try:
        return BandOrder.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands") from exc


#: --bands on the commands that read a user's scenes: GIS exports (gdal_merge, QGIS, SNAP) usually
#: write no band descriptions, so the user states the order (planet_sentinel.bands.BandOrder).
scene_bands_option = click.option(
    "--bands",
    "scene_bands",
    help="Band order of scenes without band descriptions, e.g. B02,B03,B04,B08,B11,B12 (one Sentinel-2 name per "
    "band, in file order; band descriptions, where present, must agree).",
)
#: --bands, --overwrite and --json: the tail of the commands that read a user's scene pair and write outputs.
scene_output_options = options(scene_bands_option, output_options)
