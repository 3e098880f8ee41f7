"""What every `sentinel` command shares: the error-to-exit-code group, result printing, common options.

Only click is imported at module level, so `sentinel --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

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
