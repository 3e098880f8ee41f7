"""`sentinel monitor`: compare new imagery with the training baseline and report drift."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option, parse_bands


@click.command()
@click.option(
    "--baseline",
    "baseline_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Baseline JSON of the training chips (`sentinel baseline`).",
)
@click.option(
    "--new-data",
    required=True,
    type=click.Path(file_okay=False),
    help="New chips (directories with manifest.json) or scenes (<name>_before.tif/_after.tif[/_mask.tif]).",
)
@click.option("--model", "model_spec", help="MLflow model URI or bundle file: adds predicted-change and encoder MMD.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default="outputs/monitor",
    show_default=True,
    help="Where drift.json, drift.md and the PNG plots go.",
)
@click.option(
    "--simulate",
    type=click.Choice(["none", "gain", "haze", "season", "region"]),
    help="First simulate drifted scenes into --new-data (demo; added to what it holds): 5 % gain, "
    "haze 0.5, a full season, another region; none = the baseline's settings.",
)
@click.option("--scenes", type=int, default=16, show_default=True, help="With --simulate: how many scene pairs.")
@click.option("--scene-size", type=int, default=512, show_default=True, help="With --simulate: scene side in pixels.")
@click.option("--seed", "sim_seed", type=int, default=1000, show_default=True, help="With --simulate: first seed.")
@click.option("--bands", help="Comma-separated bands to compare (default: all of the baseline's).")
@click.option("--split", help="Compare only new chips of this split (default: all).")
@json_option
@click.pass_context
def monitor(
    ctx: click.Context,
    /,
    baseline_path: str,
    new_data: str,
    model_spec: str | None,
    out_dir: str,
    simulate: str | None,
    scenes: int,
    scene_size: int,
    sim_seed: int,
    bands: str | None,
    split: str | None,
    as_json: bool,
) -> None:
    """Compare new imagery with the training baseline and report drift.

    Signals: per-band distributions, NDVI, nodata and cloud shares, and with --model the predicted
    change share and encoder features. Drift = effect size above threshold AND significant after
    Holm correction. Writes drift.json, drift.md and PNG plots into --out-dir.

    Exit codes: 0 no drift, 3 drift detected, 4 inconclusive (too few chips to test anything),
    1 error (bad baseline, new data with other bands, empty new data), 2 usage error.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.drift.monitor import MonitorConfig
    from planet_sentinel.pipeline import DriftDrill
    from planet_sentinel.pipeline import monitor as run_monitor_stage

    options: dict[str, Any] = {"split": split}
    if bands:
        options["bands"] = list(parse_bands(bands))
    config = resolve(MonitorConfig, "monitor", options)
    drill = DriftDrill(simulate, scenes, scene_size, sim_seed) if simulate is not None else None
    result = run_monitor_stage(baseline_path, new_data, out_dir, model=model_spec, config=config, drill=drill)
    d = result.decision
    emit(
        {
            "decision": d.status,
            "drifted": ",".join(d.drifted) or "-",
            "warnings": ",".join(d.warnings) or "-",
            "insufficient": ",".join(d.insufficient) or "-",
            "summary": d.summary,
            "new_chips": result.new.n_chips,
            "report": result.paths.get("markdown"),
            "json": result.paths.get("json"),
            "exit_code": result.exit_code,
        },
        as_json,
    )
    ctx.exit(result.exit_code)
