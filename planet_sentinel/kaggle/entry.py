"""The kernel-side half of the round trip: train with the bundled settings, write the outputs.

Runs inside the Kaggle kernel (after ``kernels/siamese-unet/train_kernel.py`` verified and
installed the wheel). It calls the same ``planet_sentinel.train.train`` as local training, on
CUDA with mixed precision when Kaggle gives a GPU, and writes into the output directory:
``model.pt`` (the bundle), ``history.json``, ``val_predictions.png`` and ``run.json`` (the run
record: params, best and per-epoch metrics, fingerprint, device, GPU figures and the sha256 of
every output, which the caller verifies after download).

With a ``deadline`` (UTC seconds, written into the kernel script at push), a ``Watchdog`` ends
the kernel at that time with a ``timed_out`` run record and exit status 124, so a run that
overruns stops using GPU quota by itself (see ``planet_sentinel.kaggle.deadline``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.artefacts import Artefact
from planet_sentinel.onnx_export import PARITY_FILE
from planet_sentinel.train.config import Scalar

RUN_RECORD = "run.json"
MODEL_FILE = "model.pt"
RUN_SCHEMA = "planet-sentinel/kaggle-run"


class OutputFile(BaseModel):
    """One file the kernel wrote, with the checksum the caller verifies after download."""

    model_config = ConfigDict(extra="forbid")

    sha256: str
    size: int


def _accept_unversioned(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (records without ``schema_version``, written before it existed) has the same layout."""
    return raw


class KaggleRunRecord(Artefact):
    """The kernel's run.json: how training went on Kaggle and the checksum of every output.

    A ``complete`` record is written by :func:`run`; a ``timed_out`` one by the deadline
    ``Watchdog`` (``started``, ``bundle_sha256``, ``deadline``, ``stopped``, ``epochs_completed``,
    ``history``, no outputs). Fields a record of the other kind lacks are null.
    """

    KIND: ClassVar[str] = "kaggle-run-record"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel train --on kaggle"
    UPGRADERS: ClassVar[dict[int, Any]] = {0: _accept_unversioned}

    schema_name: Literal["planet-sentinel/kaggle-run"] = Field(default="planet-sentinel/kaggle-run", alias="schema")
    status: Literal["complete", "timed_out"] = "complete"
    started: str | None = None
    bundle_sha256: str | None = Field(default=None, description="sha256 of the dataset archive the kernel trained from")
    seconds: float | None = None
    device: str | None = None
    amp: bool | None = None
    gpu: dict[str, Any] | None = Field(default=None, description="cuda, name, peak_memory_mb, peak_reserved_mb")
    mean_epoch_seconds: float | None = None
    params: dict[str, Scalar] | None = None
    best: dict[str, Any] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list, description="one entry of metrics per epoch")
    fingerprint: str | None = Field(default=None, description="identity of the chips trained on")
    extra: dict[str, Scalar] | None = None
    planet_sentinel: dict[str, str] | None = Field(
        default=None, description="version and file of the installed library"
    )
    torch: str | None = None
    kaggle_run_type: str | None = None
    outputs: dict[str, OutputFile] = Field(default_factory=dict)
    deadline: str | None = Field(default=None, description="timed_out: the deadline (UTC) the kernel stopped at")
    stopped: str | None = None
    epochs_completed: int | None = None


def _gpu_figures(torch: Any) -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"cuda": False}
    return {
        "cuda": True,
        "name": torch.cuda.get_device_name(0),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 1024**2, 1),
        "peak_reserved_mb": round(torch.cuda.max_memory_reserved() / 1024**2, 1),
    }


def run(
    root: Path, working: Path, manifest: dict[str, Any], run_dir: Path, deadline: float | None = None
) -> KaggleRunRecord:
    """Train on ``root/chips`` with ``manifest['train_config']``; write outputs into ``working``;
    stop at ``deadline`` (UTC seconds) with a ``timed_out`` record if training is not done by then."""
    started = time.time()
    watchdog = None
    if deadline is not None:
        from planet_sentinel.kaggle.deadline import Watchdog

        base: dict[str, Any] = {
            "schema": RUN_SCHEMA,
            "schema_version": KaggleRunRecord.SCHEMA_VERSION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        }
        base["bundle_sha256"] = manifest["archive"]["sha256"]
        watchdog = Watchdog(deadline, working, base, RUN_RECORD).start()
    import torch

    import planet_sentinel
    from planet_sentinel import logs
    from planet_sentinel.baseline import load_baseline
    from planet_sentinel.kaggle.packing import sha256_file
    from planet_sentinel.train import TrainConfig, train

    config = TrainConfig.model_validate(manifest["train_config"])
    baseline = load_baseline(root / manifest["baseline"]) if manifest.get("baseline") else None
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    print(
        f"planet_sentinel {planet_sentinel.__version__} from {Path(planet_sentinel.__file__).parent}; "
        f"torch {torch.__version__}; CUDA: {cuda}",
        flush=True,
    )
    callbacks = [watchdog.epoch_done] if watchdog else []
    with logs.to_stderr(logs.level()):  # the kernel's log shows the epochs, as `sentinel train` does
        result = train(root / "chips", run_dir, config, baseline, callbacks=callbacks)
    if watchdog is not None and not watchdog.disarm():
        time.sleep(3600)  # the watchdog fired while training returned: it is ending the process
    working.mkdir(parents=True, exist_ok=True)
    produced = {MODEL_FILE: result.bundle_path, "history.json": result.run_dir / "history.json"}
    if result.preview_png is not None:
        produced["val_predictions.png"] = result.preview_png
    parity = result.run_dir / PARITY_FILE  # the ONNX export's check windows, for registration at home
    if parity.is_file():
        produced[PARITY_FILE] = parity
    outputs = {}
    for name, source in produced.items():
        shutil.copyfile(source, working / name)
        outputs[name] = OutputFile(sha256=sha256_file(working / name), size=(working / name).stat().st_size)
    epoch_seconds = [h["epoch_seconds"] for h in result.history if "epoch_seconds" in h]
    record = KaggleRunRecord(
        schema_version=KaggleRunRecord.SCHEMA_VERSION,
        status="complete",
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        seconds=result.seconds,
        device=result.device,
        amp=bool(config.amp and result.device.startswith("cuda")),
        gpu=_gpu_figures(torch),
        mean_epoch_seconds=sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None,
        params=result.params,
        best=result.best,
        history=result.history,
        fingerprint=result.fingerprint,
        extra=result.extra,
        bundle_sha256=manifest["archive"]["sha256"],
        planet_sentinel={"version": planet_sentinel.__version__, "file": planet_sentinel.__file__},
        torch=torch.__version__,
        kaggle_run_type=os.environ.get("KAGGLE_KERNEL_RUN_TYPE"),
        outputs=outputs,
    )
    record.save(working / RUN_RECORD)
    print(f"wrote {', '.join(outputs)} and {RUN_RECORD} to {working}", flush=True)
    return record
