"""What every `sentinel` command shares: the error-to-exit-code group, result printing, common options.

Only click is imported at module level, so `sentinel --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click


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


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON line.")
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")


F = TypeVar("F", bound=Callable[..., Any])


def training_options(baseline_help: str) -> Callable[[F], F]:
    """The options of planet_sentinel.train.TrainConfig (and the data they train on), shared by
    `sentinel train` and `sentinel kaggle train` so both accept the same settings."""
    options = [
        click.option(
            "--data-dir", required=True, type=click.Path(file_okay=False), help="Chips root (searched recursively)."
        ),
        click.option(
            "--baseline",
            "baseline_path",
            type=click.Path(dir_okay=False),
            default="data/baseline.json",
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
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate
