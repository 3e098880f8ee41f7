"""Device-agnostic training of the Siamese U-Net: the same code on two CPU cores and on a
Kaggle GPU (CUDA with mixed precision).

``train`` needs no MLflow: it writes a run directory (best bundle, checkpoint, history, a PNG of
validation predictions) and reports each epoch to optional callbacks. The CLI and the Kaggle
round trip log that to MLflow afterwards (planet_sentinel.registry), so a kernel without
network access trains with exactly this code.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from planet_sentinel.bands import MASK_UNKNOWN
from planet_sentinel.chips import ChipStore, empty_split_advice, find_chip_dirs
from planet_sentinel.errors import SentinelError
from planet_sentinel.progress import bar, say
from planet_sentinel.raster import atomic_path, write_text_atomic

EpochCallback = Callable[[int, dict[str, float]], None]


class TrainConfig(BaseModel):
    """Training settings (the ``train`` section of params.yaml)."""

    epochs: int = Field(40, ge=1, description="maximum epochs")
    batch_size: int = Field(8, ge=1)
    crop: int | None = Field(128, ge=32, description="random training crop side (None: whole chips)")
    samples_per_epoch: int | None = Field(None, ge=1, description="crops per epoch (default: one per chip)")
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    base: int = Field(16, ge=4, description="channels of the first encoder level")
    depth: int = Field(4, ge=2, le=6)
    variant: str = Field("diff", pattern="^(diff|conc)$")
    dropout: float = Field(0.1, ge=0, lt=1)
    dice_weight: float = Field(0.5, ge=0, description="weight of the soft Dice term next to weighted BCE")
    max_pos_weight: float = Field(10.0, ge=1, description="cap on the BCE positive-class weight")
    patience: int = Field(8, ge=1, description="epochs without validation improvement before stopping")
    seed: int = 0
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    amp: bool = Field(True, description="mixed precision on CUDA (ignored on CPU)")
    max_minutes: float | None = Field(None, gt=0, description="stop after this wall time")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    bundle_path: Path
    checkpoint_path: Path
    history: list[dict[str, float]]
    best: dict[str, float]
    params: dict[str, Any]
    fingerprint: str
    preview_png: Path | None
    device: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "bundle": str(self.bundle_path),
            "best": self.best,
            "epochs_run": len(self.history),
            "fingerprint": self.fingerprint,
            "device": self.device,
            "seconds": round(self.seconds, 1),
        }


#: The seed's plain-PyTorch output, for people who do not use MLflow.
INFERENCE_COPY = Path("runs/model_inference.pth")


def publish_inference_copy(result: TrainResult, target: Path = INFERENCE_COPY) -> Path:
    """Copy the best bundle to ``runs/model_inference.pth`` (atomically)."""
    import shutil

    with atomic_path(target, suffix=".pth") as tmp:
        shutil.copyfile(result.bundle_path, tmp)
    return target


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SentinelError(f"device {name} requested but CUDA is not available here")
    return device


class ChipDataset:
    """Chips of one split from one or more chip directories, with change-detection-valid
    augmentation: the same flip/rotation on both dates and the mask, independent radiometric
    jitter per date (sensors and atmospheres differ between dates; geometry does not)."""

    def __init__(self, stores: Sequence[ChipStore], split: str, crop: int | None, augment: bool, seed: int) -> None:
        self.items = [(s, int(i)) for s in stores for i in s.indices(split)]
        self.crop = crop
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def sample(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        store, index = self.items[k]
        before = np.asarray(store.arrays["before"][index], np.float32)
        after = np.asarray(store.arrays["after"][index], np.float32)
        mask = np.asarray(store.arrays["mask"][index])
        size = mask.shape[-1]
        if self.crop and self.crop < size:
            if self.augment:
                r, c = self.rng.integers(0, size - self.crop + 1, 2)
            else:
                r = c = (size - self.crop) // 2
            window = (slice(r, r + self.crop), slice(c, c + self.crop))
            before, after, mask = before[(slice(None), *window)], after[(slice(None), *window)], mask[window]
        if self.augment:
            k_rot = int(self.rng.integers(4))
            flip = bool(self.rng.integers(2))
            before, after, mask = (self._geometric(a, k_rot, flip) for a in (before, after, mask))
            before, after = self._radiometric(before), self._radiometric(after)
        return np.ascontiguousarray(before), np.ascontiguousarray(after), np.ascontiguousarray(mask)

    @staticmethod
    def _geometric(array: np.ndarray, k_rot: int, flip: bool) -> np.ndarray:
        array = np.rot90(array, k_rot, axes=(-2, -1))
        return np.flip(array, axis=-1) if flip else array

    def _radiometric(self, image: np.ndarray) -> np.ndarray:
        valid = image > 0
        gain = self.rng.uniform(0.92, 1.08) * self.rng.normal(1.0, 0.03, (image.shape[0], 1, 1))
        offset = self.rng.normal(0.0, 60.0, (image.shape[0], 1, 1))
        jittered = image * gain.astype(np.float32) + offset.astype(np.float32)
        return np.where(valid, np.maximum(jittered, 1.0), 0.0).astype(np.float32)


def _batches(dataset: ChipDataset, order: np.ndarray, batch_size: int) -> Any:
    for start in range(0, len(order), batch_size):
        samples = [dataset.sample(int(k)) for k in order[start : start + batch_size]]
        yield tuple(np.stack(parts) for parts in zip(*samples, strict=True))


def masked_loss(logits: Any, target: Any, pos_weight: float, dice_weight: float) -> Any:
    """Weighted BCE + soft Dice over known pixels only (255 = unknown is ignored)."""
    import torch
    import torch.nn.functional as F

    valid = target != MASK_UNKNOWN
    if not bool(valid.any()):
        return logits.sum() * 0.0
    y = (target == 1).float()
    logit = logits.squeeze(1)
    weight = torch.where(y > 0, torch.full_like(y, pos_weight), torch.ones_like(y)) * valid
    bce = F.binary_cross_entropy_with_logits(logit.float(), y, weight=weight, reduction="sum") / valid.sum()
    if not dice_weight:
        return bce
    prob = torch.sigmoid(logit.float()) * valid
    y = y * valid
    dice = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
    return bce + dice_weight * dice


def load_normalisation(baseline: dict[str, Any], bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std from the drift baseline, in the model's band order."""
    missing = [b for b in bands if b not in baseline["per_band"]]
    if missing:
        raise SentinelError(f"baseline lacks bands {missing}; recompute it on these chips")
    mean = np.array([baseline["per_band"][b]["mean"] for b in bands], np.float32)
    std = np.array([max(baseline["per_band"][b]["std"], 1.0) for b in bands], np.float32)
    return mean, std


def _predict_probabilities(
    model: Any, bundle_norm: Any, dataset: ChipDataset, device: Any, batch_size: int, amp: bool
) -> tuple[np.ndarray, np.ndarray]:
    import torch

    probs, truths = [], []
    model.eval()
    with torch.inference_mode():
        for before, after, mask in _batches(dataset, np.arange(len(dataset)), batch_size):
            b = bundle_norm(torch.from_numpy(before).to(device))
            a = bundle_norm(torch.from_numpy(after).to(device))
            with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
                logits = model(b, a)
            probs.append(torch.sigmoid(logits.float()).squeeze(1).cpu().numpy())
            truths.append(mask)
    return np.concatenate(probs), np.concatenate(truths)


def training_stores(chips_dir: str | Path) -> list[ChipStore]:
    """The chip stores under ``chips_dir``, refused if training could not use them: checked here once
    so the Kaggle round trip can refuse bad chips before uploading anything."""
    stores = [ChipStore(d) for d in find_chip_dirs(chips_dir)]
    bands = stores[0].bands
    for store in stores:
        if store.bands != bands:
            raise SentinelError(f"{store.directory}: bands {list(store.bands)} differ from {list(bands)}")
        if not store.labelled:
            raise SentinelError(f"{store.directory}: chips have no mask; training needs labelled chips")
    counts = {split: sum(len(s.indices(split)) for s in stores) for split in ("train", "val")}
    if not all(counts.values()):
        raise SentinelError(
            f"need chips in both train and val splits under {chips_dir} (train {counts['train']}, val {counts['val']}; "
            f"{empty_split_advice(stores, 'train' if not counts['train'] else 'val')})"
        )
    return stores


def train(
    chips_dir: str | Path,
    run_dir: str | Path,
    config: TrainConfig | None = None,
    baseline: dict[str, Any] | None = None,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> TrainResult:
    """Train on the ``train`` split of every chip directory under ``chips_dir``, validate on
    ``val`` each epoch, keep the best bundle (by validation F1 at its best threshold)."""
    import torch

    from planet_sentinel.bundle import ModelBundle
    from planet_sentinel.drift.baseline import BaselineConfig, compute_baseline, data_fingerprint
    from planet_sentinel.evaluate import threshold_by_f1
    from planet_sentinel.model import ModelConfig, SiameseUNet, parameter_count

    config = config or TrainConfig()
    start_time = time.perf_counter()
    stores = training_stores(chips_dir)
    bands = stores[0].bands
    train_set = ChipDataset(stores, "train", config.crop, augment=True, seed=config.seed)
    val_set = ChipDataset(stores, "val", None, augment=False, seed=config.seed)
    chip_size = stores[0].size
    multiple = 2 ** (config.depth - 1)
    if (config.crop or chip_size) % multiple or chip_size % multiple:
        raise SentinelError(f"crop/chip size must be divisible by {multiple} for depth {config.depth}")

    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    amp = config.amp and device.type == "cuda"
    baseline = baseline or compute_baseline(chips_dir, BaselineConfig(split="train", pixel_sample=100))
    mean, std = load_normalisation(baseline, bands)
    fingerprint = data_fingerprint(stores)

    model = SiameseUNet(
        ModelConfig(
            in_channels=len(bands), base=config.base, depth=config.depth, variant=config.variant, dropout=config.dropout
        )
    ).to(device)
    bundle = ModelBundle(
        model=model, bands=bands, mean=mean, std=std, chip_size=chip_size, threshold=0.5, fingerprint=fingerprint
    )
    samples = config.samples_per_epoch or len(train_set)
    steps_per_epoch = math.ceil(samples / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp)

    positives = sum(float((s.arrays["mask"][s.indices("train")] == 1).sum()) for s in stores)
    negatives = sum(float((s.arrays["mask"][s.indices("train")] == 0).sum()) for s in stores)
    pos_weight = float(min(config.max_pos_weight, max(1.0, negatives / max(positives, 1.0)) ** 0.5))

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path, bundle_path = run_dir / "checkpoint.pt", run_dir / "model.pt"
    history: list[dict[str, float]] = []
    best: dict[str, float] = {"val_f1": -1.0}
    first_epoch, stale = 0, 0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state["config"] != config.model_dump():
            raise SentinelError(f"{checkpoint_path}: saved with other settings; resume needs the same config")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history, best, stale = state["history"], state["best"], state["stale"]
        first_epoch = state["epoch"] + 1
        train_set.rng.bit_generator.state = state["data_rng"]
        torch.set_rng_state(state["torch_rng"])
        say(f"resumed from {checkpoint_path} at epoch {first_epoch + 1}")
    elif resume:
        raise SentinelError(f"--resume given but {checkpoint_path} does not exist")

    params = {
        **config.model_dump(),
        "parameters": parameter_count(model),
        "bands": ",".join(bands),
        "chip_size": chip_size,
        "pos_weight": round(pos_weight, 3),
        "train_chips": len(train_set),
        "val_chips": len(val_set),
        "device": str(device),
        "fingerprint": fingerprint,
    }
    say(
        f"training {params['parameters']:,}-parameter FC-Siam-{config.variant} on {device}: "
        f"{len(train_set)} train / {len(val_set)} val chips, {steps_per_epoch} steps per epoch"
    )
    stop_reason = "max epochs"
    for epoch in range(first_epoch, config.epochs):
        epoch_start = time.perf_counter()
        model.train()
        order = train_set.rng.choice(len(train_set), size=samples, replace=samples > len(train_set))
        total, count = 0.0, 0
        with bar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", unit="step", leave=False) as progress:
            for before, after, mask in _batches(train_set, order, config.batch_size):
                b = bundle.normalise(torch.from_numpy(before).to(device))
                a = bundle.normalise(torch.from_numpy(after).to(device))
                y = torch.from_numpy(mask).to(device)
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, enabled=amp):
                    logits = model(b, a)
                loss = masked_loss(logits, y, pos_weight, config.dice_weight)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                total += float(loss.detach()) * len(mask)
                count += len(mask)
                progress.update(1)
        probs, truth = _predict_probabilities(model, bundle.normalise, val_set, device, config.batch_size, amp)
        threshold, val_f1 = threshold_by_f1(probs, truth)
        metrics = {
            "train_loss": total / max(count, 1),
            "val_f1": val_f1,
            "val_threshold": threshold,
            "lr": scheduler.get_last_lr()[0],
            "epoch_seconds": time.perf_counter() - epoch_start,
        }
        history.append({"epoch": epoch + 1, **metrics})
        improved = val_f1 > best["val_f1"] + 1e-4
        if improved:
            best = {"epoch": epoch + 1, "val_f1": val_f1, "val_threshold": threshold}
            bundle.threshold = threshold
            bundle.metrics = {"val_f1": val_f1}
            bundle.save(bundle_path)
            stale = 0
        else:
            stale += 1
        say(
            f"epoch {epoch + 1}: loss {metrics['train_loss']:.4f}, val F1 {val_f1:.3f} @ {threshold:.2f}"
            f"{' (best)' if improved else ''}, {metrics['epoch_seconds']:.1f} s"
        )
        for callback in callbacks:
            callback(epoch + 1, metrics)
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "history": history,
            "best": best,
            "stale": stale,
            "config": config.model_dump(),
            "data_rng": train_set.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        with atomic_path(checkpoint_path, suffix=".pt") as tmp:
            torch.save(state, tmp)
        if stale >= config.patience:
            stop_reason = f"early stop: no improvement for {config.patience} epochs"
            break
        if config.max_minutes and time.perf_counter() - start_time > 60 * config.max_minutes:
            stop_reason = f"time budget of {config.max_minutes} min reached"
            break
    if not bundle_path.exists():
        raise SentinelError("training produced no model (no epoch completed)")
    say(f"stopped: {stop_reason}; best val F1 {best['val_f1']:.3f} at epoch {best.get('epoch')}")
    write_text_atomic(
        run_dir / "history.json",
        json.dumps({"history": history, "best": best, "params": params, "stop_reason": stop_reason}, indent=1),
    )
    preview = _preview(bundle_path, val_set, run_dir / "val_predictions.png")
    return TrainResult(
        run_dir=run_dir,
        bundle_path=bundle_path,
        checkpoint_path=checkpoint_path,
        history=history,
        best=best,
        params=params,
        fingerprint=fingerprint,
        preview_png=preview,
        device=str(device),
        seconds=time.perf_counter() - start_time,
        extra={"stop_reason": stop_reason},
    )


def _preview(bundle_path: Path, val_set: ChipDataset, target: Path, rows: int = 4) -> Path:
    """A PNG of validation chips: after true colour | truth | predicted probability."""
    import torch

    from planet_sentinel.bundle import load_bundle
    from planet_sentinel.quicklook import colourise_mask, save_panels

    bundle = load_bundle(bundle_path)
    bands = list(bundle.bands)
    candidates = sorted(range(len(val_set)), key=lambda k: -float((val_set.sample(k)[2] == 1).mean()))[:rows]
    panels, titles = [], []
    for k in candidates:
        before, after, mask = val_set.sample(k)
        with torch.inference_mode():
            prob = torch.sigmoid(
                bundle.model(
                    bundle.normalise(torch.from_numpy(before[None])), bundle.normalise(torch.from_numpy(after[None]))
                )
            )[0, 0].numpy()
        rgb_idx = [bands.index(b) for b in ("B04", "B03", "B02") if b in bands]
        rgb = np.moveaxis(after[rgb_idx], 0, -1) if len(rgb_idx) == 3 else np.repeat(after[:1], 3, 0).transpose(1, 2, 0)
        lo, hi = np.percentile(rgb[rgb > 0], [2, 98]) if (rgb > 0).any() else (0, 1)
        rgb = (np.clip((rgb - lo) / max(hi - lo, 1), 0, 1) * 255).astype(np.uint8)
        heat = (np.stack([prob, np.zeros_like(prob), 1 - prob], -1) * 255).astype(np.uint8)
        panels.append(np.concatenate([rgb, colourise_mask(mask), heat], axis=1))
        titles.append(f"val chip {k}: after | truth | probability (red high)")
    stacked = np.concatenate([np.pad(p, ((0, 4), (0, 0), (0, 0)), constant_values=255) for p in panels], axis=0)
    return save_panels(target, [stacked], [" / ".join(titles[:1]) + f" (+{len(titles) - 1} more rows)"])
