"""`python -m tools ee`: Earth Engine emulator: serve it, run an emulated ingest.

python -m tools ee serve --port 8766 --env-file ee.env     # prints the URL, writes the env to source
set -a; . ./ee.env; set +a
sentinel ingest gee --project emulated-project --aoi aoi.geojson ...   # the real client, against it
python -m tools ee ingest --tile-px 128 --rate-limited 2    # all of the above in one process
python -m tools ee ingest --unscored before=6 --overwrite   # no Cloud Score+ match: the SCL fallback
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import click

DEFAULT_SCENE_DIR = ".ee-emulator"
UNSCORED_HELP = "ROLE=N: the first N images of the before/after window have no Cloud Score+ match (repeatable)."


def parse_unscored(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    """``before=6`` -> {"before": 6}; a clear usage error otherwise."""
    out: dict[str, int] = {}
    for value in values:
        role, sep, count = value.partition("=")
        if not sep or role not in ("before", "after") or not count.isdigit():
            raise click.BadParameter(f"{value!r}: expected before=N or after=N (N >= 0)")
        out[role] = int(count)
    return out


@click.group(name="ee")
def ee() -> None:
    """Earth Engine emulator: serve it, run an emulated ingest."""


@ee.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option("--scene-dir", type=click.Path(file_okay=False), default=DEFAULT_SCENE_DIR, show_default=True)
@click.option("--size", type=int, default=1024, show_default=True, help="Simulated source scene side (px, 10 m).")
@click.option("--seed", type=int, default=3, show_default=True)
@click.option("--rate-limited", type=int, default=0, help="Answer the first N computePixels requests with HTTP 429.")
@click.option("--export-split", type=int, default=1, help="Split exported images into N files.")
@click.option("--latency-s", type=float, default=0.0, help="Hold each computePixels answer this long...")
@click.option("--throughput-mb-s", type=float, default=0.0, help="...plus its size at this rate (0: no limit).")
@click.option("--unscored", multiple=True, callback=parse_unscored, help=UNSCORED_HELP)
@click.option("--keep-bodies", is_flag=True, help="Keep request bodies for GET /_emulator/requests.")
@click.option("--no-auth", is_flag=True, help="Accept requests without a token.")
@click.option("--env-file", type=click.Path(dir_okay=False), help="Write the environment to use it (KEY=VALUE lines).")
@click.option("--aoi-file", type=click.Path(dir_okay=False), help="Write an AOI inside the source scene here.")
def serve(
    port: int,
    scene_dir: str,
    size: int,
    seed: int,
    rate_limited: int,
    export_split: int,
    latency_s: float,
    throughput_mb_s: float,
    unscored: dict[str, int],
    keep_bodies: bool,
    no_auth: bool,
    env_file: str | None,
    aoi_file: str | None,
) -> None:
    """Serve the emulator until interrupted; print the URL and the environment that points at it.

    GET /_emulator/requests returns the record of requests (and their bodies with --keep-bodies).
    """
    from planet_sentinel.raster import write_text_atomic
    from tools.emulators.earthengine import EarthEngineEmulator, Faults

    faults = Faults(
        rate_limited=rate_limited,
        export_split=export_split,
        latency_s=latency_s,
        throughput_mb_s=throughput_mb_s,
        unscored=unscored,
    )
    emu = EarthEngineEmulator(
        scene_dir, size=size, seed=seed, faults=faults, require_auth=not no_auth, port=port, keep_bodies=keep_bodies
    )
    emu.start()
    click.echo(f"Earth Engine emulator on {emu.url} (source scene {size}x{size} px in {scene_dir})")
    if aoi_file:
        margin = size // 8
        write_text_atomic(aoi_file, json.dumps(emu.aoi(margin, margin, size - margin, size - margin)))
        click.echo(f"AOI inside the scene: {aoi_file}")
    if env_file:
        env = emu.environ()
        write_text_atomic(env_file, "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
        click.echo(f"environment written to {env_file}: set -a; . {env_file}; set +a")
    else:
        click.echo(f"export EARTHENGINE_API_URL={emu.url} STORAGE_EMULATOR_HOST={emu.url}")
        click.echo("(use --env-file for a generated EARTHENGINE_SERVICE_ACCOUNT_KEY)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()


@ee.command(name="ingest")
@click.option("--out-dir", type=click.Path(file_okay=False), default="data/raw", show_default=True)
@click.option("--name", default="emulated", show_default=True)
@click.option("--scene-dir", type=click.Path(file_okay=False), default=DEFAULT_SCENE_DIR, show_default=True)
@click.option("--size", type=int, default=1024, show_default=True, help="Simulated source scene side (px).")
@click.option("--seed", type=int, default=3, show_default=True)
@click.option("--tile-px", type=int, help="Force a tile size (many tiles for a small AOI).")
@click.option("--rate-limited", type=int, default=0, help="Answer the first N computePixels requests with HTTP 429.")
@click.option("--unscored", multiple=True, callback=parse_unscored, help=UNSCORED_HELP)
@click.option("--export", help="gcs:BUCKET/PREFIX or drive:FOLDER (batch route).")
@click.option("--label", type=click.Choice(["hansen", "none"]), default="hansen", show_default=True)
@click.option("--overwrite", is_flag=True)
def ingest_emulated(
    out_dir: str,
    name: str,
    scene_dir: str,
    size: int,
    seed: int,
    tile_px: int | None,
    rate_limited: int,
    unscored: dict[str, int],
    export: str | None,
    label: str,
    overwrite: bool,
) -> None:
    """`sentinel ingest gee` against an in-process emulator, with an AOI inside its scene."""
    from planet_sentinel.sources.gee import IngestConfig, ingest
    from tools.emulators.earthengine import EarthEngineEmulator, Faults

    faults = Faults(rate_limited=rate_limited, unscored=unscored)
    with EarthEngineEmulator(scene_dir, size=size, seed=seed, faults=faults) as emu:
        os.environ.update(emu.environ())
        margin = size // 8
        aoi = Path(scene_dir) / "aoi.geojson"
        aoi.write_text(json.dumps(emu.aoi(margin, margin, size - margin, size - margin)))
        cfg = IngestConfig.model_validate(
            {
                "project": "emulated-project",
                "aoi": str(aoi),
                "name": name,
                "before": ("2024-01-01", "2024-01-31"),
                "after": ("2024-11-01", "2024-11-30"),
                "out_dir": out_dir,
                "tile_px": tile_px,
                "export": export,
                "label": label,
                "backoff_s": 0.2,
                "poll_s": 0.2,
            }
        )
        summary = ingest(cfg, overwrite=overwrite)
        counts: dict[str, int] = {}
        for entry in emu.log:
            key = f"{entry['method']} {entry['status']}"
            counts[key] = counts.get(key, 0) + 1
    fallback = {role: w.without_cloud_score_plus for role, w in summary.windows.items()}
    click.echo(
        json.dumps(
            {
                "outputs": summary.outputs,
                "requests": counts,
                "seconds": summary.seconds,
                "without_cloud_score_plus": fallback,
            }
        )
    )
    for line in summary.next_steps or []:
        click.echo(line)
