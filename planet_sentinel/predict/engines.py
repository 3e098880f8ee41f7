"""The two engines one predictor runs on: ONNX Runtime (the graph) and PyTorch (the bundle).

Why two: ONNX Runtime is about 3x faster than eager PyTorch on CPUs and needs no PyTorch (the
service image ships without it); PyTorch stays for CUDA and for model versions registered before
graphs were exported. Both take raw reflectance windows and return probabilities, so tiling,
cloud screening, writing and vectorising are the same code whichever engine runs
(:mod:`planet_sentinel.predict.batch`).

Choice (``--engine``, ``PredictConfig.engine``, ``SENTINEL_SERVE_ENGINE``):
``onnx`` the graph or a clear error; ``torch`` the bundle; ``auto`` (default) PyTorch on CUDA when a
GPU is asked for or available, otherwise the graph when ONNX Runtime is installed and the model has
one, otherwise PyTorch with a message saying why.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    import torch

    from planet_sentinel.model_bundle import ModelBundle

log = logging.getLogger(__name__)

EngineName = Literal["auto", "onnx", "torch"]
ENGINES: tuple[str, ...] = ("auto", "onnx", "torch")

#: What every predictor function takes: a PyTorch bundle or an ONNX graph with the same metadata.
Model: TypeAlias = "ModelBundle | OnnxModel"


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


@dataclass
class OnnxModel:
    """A model run by ONNX Runtime: the graph file and the bundle metadata stored inside it.

    Mirrors what predictors read of a :class:`~planet_sentinel.model_bundle.ModelBundle` (bands,
    thresholds, chip size, input multiple, fingerprint, metrics, source) without importing torch.
    """

    path: Path
    session: Any  # onnxruntime.InferenceSession (thread-safe: the service's workers share it)
    bands: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    chip_size: int
    threshold: float
    architecture: dict[str, int | float | str]
    high_threshold: float | None = None
    fingerprint: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    engine: str = "onnx"

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None, source: dict[str, Any] | None = None) -> OnnxModel:
        """Open a graph written by :func:`planet_sentinel.onnx_export.export_graph`."""
        from planet_sentinel.onnx_export import METADATA_KEY

        path = Path(path)
        if not onnxruntime_installed():
            raise SentinelError("engine onnx needs onnxruntime (pip install 'planet-sentinel[service]')")
        import onnxruntime as ort

        options = ort.SessionOptions()
        # all graph optimisations, the CPU layout transforms (NCHWc convolutions) included:
        # onnxruntime docs, "Graph Optimizations in ONNX Runtime" (ORT_ENABLE_ALL)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile types
            raise SentinelError(f"{path}: not a readable ONNX graph ({type(exc).__name__}: {exc})") from exc
        text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if not text:
            raise SentinelError(f"{path}: an ONNX graph without planet-sentinel metadata ({METADATA_KEY})")
        from planet_sentinel.model_bundle import metadata_fields  # numpy only: no torch import

        meta = json.loads(text)
        return cls(
            path=path,
            session=session,
            architecture=dict(meta["model_config"]),
            **metadata_fields(meta),
            source={"graph": str(path), **(source or {})},
        )

    @property
    def multiple(self) -> int:
        """Window sides must be multiples of this (the U-Net's down-sampling)."""
        return int(2 ** (int(self.architecture["depth"]) - 1))

    def device_name(self, device: str | None = None) -> str:
        if device not in (None, "auto", "cpu"):
            raise SentinelError(f"engine onnx runs on the CPU; device {device} needs --engine torch")
        return "cpu"

    def probabilities(self, before: np.ndarray, after: np.ndarray, device: object = None) -> np.ndarray:
        """(N, bands, H, W) float32 reflectance x10000 on both dates -> (N, H, W) float32 probability."""
        from planet_sentinel.onnx_export import INPUTS, OUTPUT

        feeds = {
            INPUTS[0]: np.ascontiguousarray(before, np.float32),
            INPUTS[1]: np.ascontiguousarray(after, np.float32),
        }
        result: np.ndarray = self.session.run([OUTPUT], feeds)[0]
        return result


def _cuda_wanted(device: str | torch.device | None) -> bool:
    if device is not None and str(device) not in ("auto", "cpu"):
        return str(device).startswith("cuda")
    # No NVIDIA driver, no CUDA: skip importing torch (3 s) only to hear it say so.
    if not torch_installed() or not Path("/proc/driver/nvidia/version").exists():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _missing_graph(model: str) -> str:
    return (
        f"{model} has no ONNX graph (registered before graphs were exported, or a bundle file without "
        "its .onnx beside it)"
    )


def pick_engine(engine: str, device: str | torch.device | None, graph: Path | None, what: str) -> str:
    """``onnx`` or ``torch`` for a model whose graph is ``graph`` (None: it has none)."""
    if engine not in ENGINES:
        raise SentinelError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "torch":
        return "torch"
    if engine == "onnx":
        if graph is None:
            raise SentinelError(f"{_missing_graph(what)}; use --engine torch or re-register the model")
        if device not in (None, "auto", "cpu"):
            raise SentinelError(f"engine onnx runs on the CPU; device {device} needs --engine torch")
        return "onnx"
    if _cuda_wanted(device):
        return "torch"
    if graph is not None and onnxruntime_installed():
        return "onnx"
    reason = _missing_graph(what) if graph is None else "onnxruntime is not installed"
    if not torch_installed():
        raise SentinelError(f"{reason}, and PyTorch is not installed either: nothing can run it")
    log.warning(f"{reason}: predicting with PyTorch")
    return "torch"


def with_engine(
    bundle: ModelBundle, engine: str = "auto", device: str | torch.device | None = None, threads: int | None = None
) -> Model:
    """The bundle itself (PyTorch) or its graph (ONNX Runtime), as :func:`pick_engine` decides."""
    graph = bundle.source.get("graph")
    path = Path(graph) if graph and Path(graph).is_file() else None
    what = str(bundle.source.get("uri") or "the model")
    if pick_engine(engine, device, path, what) == "torch":
        return bundle
    assert path is not None
    source = {k: v for k, v in bundle.source.items() if k != "graph"}
    return OnnxModel.load(path, threads=threads, source=source)


def resolve_engine(
    model: Model, engine: str = "auto", device: str | torch.device | None = None, threads: int | None = None
) -> Model:
    """``model`` on the engine asked for: a bundle may become its graph; a graph stays a graph
    (``torch`` asked of a graph loaded without its bundle is an error that says so)."""
    if isinstance(model, OnnxModel):
        if engine == "torch":
            raise SentinelError(
                f"{model.path} was loaded as an ONNX graph (no PyTorch bundle): --engine torch needs the bundle"
            )
        if engine not in ENGINES:
            raise SentinelError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        return model
    return with_engine(model, engine, device, threads)
