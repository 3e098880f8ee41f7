"""`sentinel train`: train the Siamese U-Net here or on a Kaggle GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option, training_options


@click.command()
@training_options("Normalisation statistics (computed from the chips if absent).")
@click.option("--device", help="auto, cpu, cuda or cuda:N.")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where checkpoints go (default runs/<time>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoint.")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Log to MLflow and register the model as `challenger`.",
)
@click.option(
    "--on",
    "where",
    type=click.Choice(["local", "kaggle"]),
    default="local",
    show_default=True,
    help="Train here, or on a Kaggle GPU (same as `sentinel kaggle train`; settings in params.yaml `kaggle:`).",
)
@json_option
def train(
    data_dir: str,
    baseline_path: str,
    run_dir: str | None,
    resume: bool,
    register: bool,
    where: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Train the Siamese U-Net on the chips' train split, validating on val each epoch."""
    if where == "kaggle":
        from planet_sentinel.commands.kaggle import run_kaggle_training

        if resume:
            raise click.UsageError("--resume works only with --on local")
        emit(run_kaggle_training(data_dir, baseline_path, run_dir, register, options), as_json)
        return

    from planet_sentinel.config import resolve
    from planet_sentinel.pipeline import TrainRequest, default_run_dir, optional_baseline, train_and_register
    from planet_sentinel.train import TrainConfig

    request = TrainRequest(
        chips_dir=Path(data_dir),
        run_dir=Path(run_dir) if run_dir else default_run_dir(),
        config=resolve(TrainConfig, "train", options),
        baseline=optional_baseline(baseline_path),
        resume=resume,
        register=register,
    )
    emit(train_and_register(request).to_dict(), as_json)
