"""`python -m tools`: the developer CLI. Each subcommand lives in its own module."""

from __future__ import annotations

import click

from tools.bench import bench


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Planet Sentinel developer tools: benchmarks (more tools arrive with later issues)."""


main.add_command(bench)

if __name__ == "__main__":
    main(prog_name="python -m tools")
