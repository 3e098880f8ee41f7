"""One loader for every predictor surface (CLI, service, benchmarks): a model on its engine.

Why here and not in the registry: the service image has no PyTorch, so loading must reach the ONNX
graph without importing torch; :func:`planet_sentinel.registry.model_files` finds the files (an
MLflow version's artifacts or a local file and its sibling) and this picks what runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planet_sentinel.errors import SentinelError
from planet_sentinel.predict.engines import OnnxModel, pick_engine

if TYPE_CHECKING:
    import torch

    from planet_sentinel.predict.engines import Model


def load_predictor(
    spec: str | Path, engine: str = "auto", device: str | torch.device | None = None, threads: int | None = None
) -> Model:
    """The model of ``spec`` (``models:/...`` URI, bundle ``.pt``/``.pth`` or graph ``.onnx`` file)
    on the engine :func:`~planet_sentinel.predict.engines.pick_engine` chooses; PyTorch is imported
    only when it runs the model."""
    from planet_sentinel.registry import model_files

    files = model_files(spec)
    if pick_engine(engine, device, files.graph, str(spec)) == "onnx":
        assert files.graph is not None
        return OnnxModel.load(files.graph, threads=threads, source=files.source)
    if files.bundle is None:
        raise SentinelError(f"{spec} is an ONNX graph without its PyTorch bundle: use --engine onnx or auto")
    from planet_sentinel.model_bundle import load_bundle

    bundle = load_bundle(files.bundle)
    bundle.source = {**bundle.source, **files.source}
    if files.graph is not None:
        bundle.source["graph"] = str(files.graph)
    return bundle
