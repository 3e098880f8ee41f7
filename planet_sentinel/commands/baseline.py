"""`sentinel baseline`: statistics of the training chips that drift monitoring compares with."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import emit, output_options


@click.command()
@click.option(
    "--chips-dir", required=True, type=click.Path(file_okay=False), help="Chips directory (searched recursively)."
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Baseline JSON to write.")
@click.option("--split", help="Split the baseline describes: train (default), val, test or all.")
@click.option("--pixel-sample", type=int, help="Pixels kept per band for two-sample tests.")
@output_options
def baseline(chips_dir: str, out: str, overwrite: bool, as_json: bool, **options: Any) -> None:
    """Per-band, NDVI and cloud statistics of the training chips, for drift monitoring."""
    from planet_sentinel.baseline import BaselineConfig, write_baseline
    from planet_sentinel.config import resolve

    config = resolve(BaselineConfig, "baseline", options)
    written = write_baseline(chips_dir, out, config, overwrite=overwrite)
    ndvi = written.ndvi
    emit(
        {
            "out": out,
            "n_chips": written.n_chips,
            "bands": ",".join(written.bands),
            "fingerprint": written.source.fingerprint,
            "ndvi_mean": round(ndvi.mean, 4) if ndvi.count and ndvi.mean is not None else None,
        },
        as_json,
    )
