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

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

RUN_RECORD = "run.json"
MODEL_FILE = "model.pt"
RUN_SCHEMA = "planet-sentinel/kaggle-run"


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
) -> dict[str, Any]:
    """Train on ``root/chips`` with ``manifest['train_config']``; write outputs into ``working``;
    stop at ``deadline`` (UTC seconds) with a ``timed_out`` record if training is not done by then."""
    started = time.time()
    watchdog = None
    if deadline is not None:
        from planet_sentinel.kaggle.deadline import Watchdog

        base = {"schema": RUN_SCHEMA, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))}
        base["bundle_sha256"] = manifest["archive"]["sha256"]
        watchdog = Watchdog(deadline, working, base, RUN_RECORD).start()
    import torch

    import planet_sentinel
    from planet_sentinel.kaggle.bundle import sha256_file
    from planet_sentinel.raster import write_text_atomic
    from planet_sentinel.train import TrainConfig, train

    config = TrainConfig.model_validate(manifest["train_config"])
    baseline = json.loads((root / manifest["baseline"]).read_text()) if manifest.get("baseline") else None
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    print(
        f"planet_sentinel {planet_sentinel.__version__} from {Path(planet_sentinel.__file__).parent}; "
        f"torch {torch.__version__}; CUDA: {cuda}",
        flush=True,
    )
    callbacks = [watchdog.epoch_done] if watchdog else []
    result = train(root / "chips", run_dir, config, baseline, callbacks=callbacks)
    if watchdog is not None and not watchdog.disarm():
        time.sleep(3600)  # the watchdog fired while training returned: it is ending the process
    working.mkdir(parents=True, exist_ok=True)
    produced = {MODEL_FILE: result.bundle_path, "history.json": result.run_dir / "history.json"}
    if result.preview_png is not None:
        produced["val_predictions.png"] = result.preview_png
    outputs = {}
    for name, source in produced.items():
        shutil.copyfile(source, working / name)
        outputs[name] = {"sha256": sha256_file(working / name), "size": (working / name).stat().st_size}
    epoch_seconds = [h["epoch_seconds"] for h in result.history if "epoch_seconds" in h]
    record = {
        "schema": RUN_SCHEMA,
        "status": "complete",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": result.seconds,
        "device": result.device,
        "amp": bool(config.amp and result.device.startswith("cuda")),
        "gpu": _gpu_figures(torch),
        "mean_epoch_seconds": sum(epoch_seconds) / len(epoch_seconds) if epoch_seconds else None,
        "params": result.params,
        "best": result.best,
        "history": result.history,
        "fingerprint": result.fingerprint,
        "extra": result.extra,
        "bundle_sha256": manifest["archive"]["sha256"],
        "planet_sentinel": {"version": planet_sentinel.__version__, "file": planet_sentinel.__file__},
        "torch": torch.__version__,
        "kaggle_run_type": os.environ.get("KAGGLE_KERNEL_RUN_TYPE"),
        "outputs": outputs,
    }
    write_text_atomic(working / RUN_RECORD, json.dumps(record, indent=1))
    print(f"wrote {', '.join(outputs)} and {RUN_RECORD} to {working}", flush=True)
    return record
