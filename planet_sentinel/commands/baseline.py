"""`sentinel baseline`: statistics of the training chips that drift monitoring compares with."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option, overwrite_option


@click.command()
@click.option(
    "--chips-dir", required=True, type=click.Path(file_okay=False), help="Chips directory (searched recursively)."
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Baseline JSON to write.")
@click.option("--split", help="Split the baseline describes: train (default), val, test or all.")
@click.option("--pixel-sample", type=int, help="Pixels kept per band for two-sample tests.")
@overwrite_option
@json_option
def baseline(chips_dir: str, out: str, overwrite: bool, as_json: bool, **options: Any) -> None:
    """Per-band, NDVI and cloud statistics of the training chips, for drift monitoring."""
    from planet_sentinel.config import resolve
    from planet_sentinel.drift.baseline import BaselineConfig, write_baseline

    config = resolve(BaselineConfig, "baseline", options)
    data = write_baseline(chips_dir, out, config, overwrite=overwrite)
    emit(
        {
            "out": out,
            "n_chips": data["n_chips"],
            "bands": ",".join(data["bands"]),
            "fingerprint": data["source"]["fingerprint"],
            "ndvi_mean": round(data["ndvi"]["mean"], 4) if data["ndvi"]["count"] else None,
        },
        as_json,
    )
