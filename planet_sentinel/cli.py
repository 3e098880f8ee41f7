"""`sentinel`: one subcommand per pipeline stage.

Each stage's command lives in ``planet_sentinel/commands/<stage>.py``; this module only builds the
group and registers them, in pipeline order (the order `sentinel --help` lists them in). Only click
is imported at module level; each command imports the library pieces it needs, so
``sentinel --help`` stays fast. Settings follow one precedence: flag > SENTINEL_<SECTION>_<FIELD>
environment variable > params.yaml > default (see planet_sentinel.config).

Exit codes: 0 success, 1 a problem with the input or environment (the message says what),
2 a usage error.
"""

from __future__ import annotations

import click

from planet_sentinel.commands.alerts import alerts
from planet_sentinel.commands.aoi import aoi
from planet_sentinel.commands.baseline import baseline
from planet_sentinel.commands.chip import chip
from planet_sentinel.commands.common import SentinelGroup
from planet_sentinel.commands.demo import demo
from planet_sentinel.commands.deploy import deploy
from planet_sentinel.commands.evaluate import evaluate
from planet_sentinel.commands.github import github
from planet_sentinel.commands.import_ import import_
from planet_sentinel.commands.ingest import ingest
from planet_sentinel.commands.init import init
from planet_sentinel.commands.kaggle import kaggle
from planet_sentinel.commands.label import label
from planet_sentinel.commands.monitor import monitor
from planet_sentinel.commands.plots import plots
from planet_sentinel.commands.predict import predict
from planet_sentinel.commands.promote import promote
from planet_sentinel.commands.region import region
from planet_sentinel.commands.serve import serve
from planet_sentinel.commands.simulate import simulate
from planet_sentinel.commands.site import site
from planet_sentinel.commands.train import train


@click.group(cls=SentinelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="planet-sentinel")
@click.option("-v", "--verbose", is_flag=True, help="Also print debug lines (SENTINEL_QUIET=1 prints only warnings).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Planet Sentinel: find deforestation in Sentinel-2 imagery.

    Stages, in pipeline order: ingest / import / simulate -> label -> chip -> baseline ->
    train -> promote -> predict -> evaluate -> serve -> deploy -> monitor. `sentinel demo` runs
    the local pipeline on the embedded simulated scene.
    """
    from planet_sentinel import logs

    # The library's progress lines go to stderr for as long as the command runs (stdout: results).
    ctx.with_resource(logs.to_stderr(logs.level(verbose)))


#: Pipeline order: the help reads as the flow of the data (SentinelGroup lists commands as added).
COMMANDS: tuple[click.Command, ...] = (
    simulate,
    import_,
    ingest,
    label,
    chip,
    baseline,
    train,
    promote,
    predict,
    evaluate,
    alerts,
    plots,
    serve,
    deploy,
    monitor,
    region,
    site,
    aoi,
    init,
    demo,
    kaggle,
    github,
)
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="sentinel")


if __name__ == "__main__":  # pragma: no cover
    main()
