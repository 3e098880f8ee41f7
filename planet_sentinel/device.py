"""The torch device a stage runs on: one resolver for prediction, evaluation, monitoring and training.

Why one: prediction and training each had their own, with different spellings ("auto" only in
training) and different failures (training refused CUDA where there is none, prediction failed
later inside torch). Torch is imported only when a device is resolved, so importing this module
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    import torch

#: The spelling that means "CUDA if available, else the CPU" (as does None).
AUTO = "auto"


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch device; None or ``"auto"``: CUDA when available, else the CPU.

    A device torch cannot parse, or CUDA asked for where there is none, is a
    :class:`SentinelError` that says so (not a traceback from deep inside the first forward pass).
    """
    import torch

    if device is None or device == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SentinelError(f"device {device!r} is not one of auto, cpu, cuda or cuda:N ({exc})") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SentinelError(f"device {device} requested but CUDA is not available here")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise SentinelError(
            f"device {device} requested but this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return resolved
