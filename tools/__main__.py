"""`python -m tools`: the developer CLI. Each subcommand lives in its own module."""

from __future__ import annotations

import click

from tools.act import act, run_action
from tools.artefacts import artefacts
from tools.bench import bench
from tools.ee_cli import ee
from tools.github_cli import github
from tools.kaggle_cli import kaggle
from tools.workflows import workflows


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Planet Sentinel developer tools: run workflows and actions locally, emulators, benchmarks."""
    from planet_sentinel import logs

    # The library's and the tools' progress lines go to stderr while the command runs.
    ctx.with_resource(logs.to_stderr(logs.level(), names=(logs.LIBRARY, "tools")))


for command in (act, run_action, workflows, artefacts, ee, kaggle, github, bench):
    main.add_command(command)

if __name__ == "__main__":
    main(prog_name="python -m tools")
