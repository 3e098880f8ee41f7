"""The ONNX graph of a model bundle, written at registration and refused when it disagrees.

Why: ONNX Runtime runs the same network about 3x faster than eager PyTorch on the CPUs of GitHub
runners and of the deploy machine, and the service then needs no PyTorch at all. The graph takes
raw reflectance (``before``, ``after``: float32 (N, bands, H, W), x10000) and returns the change
probability (N, H, W): the bundle's normalisation and the sigmoid are inside it, so the engine has
nothing to get wrong. The bundle's metadata (bands, normalisation, thresholds, fingerprint...) is
stored in the graph's ``metadata_props`` (``planet_sentinel.bundle``), so the ``.onnx`` file alone
is a complete model for :class:`planet_sentinel.predict.engines.OnnxModel`.

The exporter is torch's TorchScript-based one (``dynamo=False``): on this network it matches eager
PyTorch to 1e-7, where the ``torch.export`` route of torch 2.13 differs already in
``torch.export.export`` itself by about 1e-3 on an untrained network (measured; docs/service.md).
Whichever route is used, :func:`export_graph` runs the graph on real windows with ONNX Runtime
and refuses it unless probabilities agree within :data:`PARITY_ATOL` and the loss masks at the
model's threshold are identical (pixels within :data:`PARITY_ATOL` of the threshold excepted: no two
float implementations agree on which side those fall).
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import atomic_path

if TYPE_CHECKING:
    import torch

    from planet_sentinel.model_bundle import ModelBundle

log = logging.getLogger(__name__)

#: Where the bundle's metadata lives in the graph (ONNX ``metadata_props``).
METADATA_KEY = "planet_sentinel.bundle"
#: The graph's input and output names (the engine feeds them by name).
INPUTS = ("before", "after")
OUTPUT = "probability"
#: Largest absolute difference of probabilities allowed between the graph and PyTorch.
PARITY_ATOL = 1e-4
OPSET = 18


class GraphMismatch(SentinelError):
    """The exported graph does not reproduce the PyTorch model: nothing is registered."""


@dataclass(frozen=True)
class ParityReport:
    """How the graph compared with PyTorch on the check windows."""

    windows: int
    max_abs_diff: float
    mask_differences: int
    source: str  # where the windows came from ("validation chips", "generated")

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "windows": self.windows,
            "max_abs_diff": self.max_abs_diff,
            "mask_differences": self.mask_differences,
            "source": self.source,
        }


#: Validation windows a training run keeps for the export's parity check (run directory).
PARITY_FILE = "parity_windows.npz"


def save_parity_windows(pairs: list[tuple[np.ndarray, np.ndarray]], run_dir: str | Path) -> Path:
    """Keep a few validation chip pairs (uint16 reflectance) for the parity check at registration."""
    stacked = np.stack([np.stack([b, a]) for b, a in pairs]).astype(np.uint16)
    with atomic_path(Path(run_dir) / PARITY_FILE, suffix=".npz") as tmp:
        with tmp.open("wb") as handle:
            np.savez_compressed(handle, windows=stacked)
    return Path(run_dir) / PARITY_FILE


def load_parity_windows(run_dir: str | Path) -> np.ndarray | None:
    """The run's kept windows (N, 2, bands, H, W), or None for runs that kept none."""
    path = Path(run_dir) / PARITY_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        windows: np.ndarray = data["windows"].astype(np.float32)
    return windows


def graph_path(bundle_path: str | Path) -> Path:
    """The graph's place beside a bundle file: ``model.pt`` -> ``model.onnx``."""
    return Path(bundle_path).with_suffix(".onnx")


def _probability_module(bundle: ModelBundle) -> torch.nn.Module:
    """The bundle's network with its normalisation in front and the sigmoid behind."""
    import torch

    class ProbabilityGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = bundle.model
            self.register_buffer("mean", torch.as_tensor(bundle.mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.as_tensor(bundle.std, dtype=torch.float32).view(1, -1, 1, 1))

        def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
            mean, std = self.get_buffer("mean"), self.get_buffer("std")
            logits = self.network((before - mean) / std, (after - mean) / std)
            return torch.sigmoid(logits)[:, 0]

    return ProbabilityGraph().eval()


def _export(bundle: ModelBundle, target: Path) -> None:
    import torch

    module = _probability_module(bundle).cpu()
    side = bundle.model.multiple * 4
    example = torch.full((1, len(bundle.bands), side, side), 1000.0)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        # torch 2.9+ warns that the TorchScript exporter is deprecated; it is the route whose graph
        # matches eager PyTorch here (module docstring). The parity check guards either route.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            module,
            (example, example),
            str(target),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={INPUTS[0]: axes, INPUTS[1]: axes, OUTPUT: {0: "batch", 1: "height", 2: "width"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _write_metadata(target: Path, bundle: ModelBundle) -> None:
    import onnx

    graph = onnx.load(str(target))
    del graph.metadata_props[:]
    entry = graph.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(bundle.metadata(), sort_keys=True)
    graph.producer_name = "planet-sentinel"
    onnx.checker.check_model(graph)
    onnx.save(graph, str(target))


def check_windows(bundle: ModelBundle, windows: np.ndarray | None) -> tuple[np.ndarray, str]:
    """(N, 2, bands, H, W) float32 check windows: the given ones, or generated around the bundle's
    mean reflectance when a run kept none (old runs); the string says which."""
    if windows is not None and len(windows):
        return np.asarray(windows, np.float32), "validation chips"
    rng = np.random.default_rng(0)
    side = bundle.model.multiple * 16
    shape = (2, 2, len(bundle.bands), side, side)
    values = bundle.mean.reshape(1, 1, -1, 1, 1) + bundle.std.reshape(1, 1, -1, 1, 1) * rng.standard_normal(shape)
    return np.clip(values, 1, 65535).astype(np.float32), "generated"


def compare(bundle: ModelBundle, graph_file: Path, windows: np.ndarray, source: str) -> ParityReport:
    """Run PyTorch and the graph (ONNX Runtime) on the same windows."""
    from planet_sentinel.predict.engines import OnnxModel

    graph = OnnxModel.load(graph_file, threads=1)
    worst, differing = 0.0, 0
    for pair in windows:
        before, after = pair[0][None], pair[1][None]
        expected = bundle.probabilities(before, after, "cpu")
        got = graph.probabilities(before, after)
        worst = max(worst, float(np.max(np.abs(expected - got))))
        flipped = (expected >= bundle.threshold) != (got >= bundle.threshold)
        # A pixel within PARITY_ATOL of the threshold may land on either side under any two float
        # implementations (or thread counts) of the same network; only a flip beyond that is a
        # disagreement. The windows are validation chips, where the threshold was chosen, so such
        # pixels do occur (seen: 6e-8 apart, one pixel flipped).
        differing += int(np.count_nonzero(flipped & (np.abs(expected - bundle.threshold) > PARITY_ATOL)))
    return ParityReport(len(windows), worst, differing, source)


def export_graph(bundle: ModelBundle, target: str | Path, windows: np.ndarray | None = None) -> ParityReport:
    """Write ``target`` (atomically) only if the graph reproduces the bundle on ``windows``.

    Raises :class:`GraphMismatch` (nothing written) when the largest probability difference exceeds
    :data:`PARITY_ATOL` or any pixel changes side of the model's threshold.
    """
    target = Path(target)
    checked, source = check_windows(bundle, windows)
    with atomic_path(target, suffix=".onnx") as tmp:
        _export(bundle, tmp)
        _write_metadata(tmp, bundle)
        report = compare(bundle, tmp, checked, source)
        if report.max_abs_diff > PARITY_ATOL or report.mask_differences:
            raise GraphMismatch(
                f"the ONNX graph disagrees with PyTorch on {report.windows} {source} window(s): largest "
                f"probability difference {report.max_abs_diff:.2e} (allowed {PARITY_ATOL:.0e}), "
                f"{report.mask_differences} pixel(s) on the other side of the threshold "
                f"(beyond {PARITY_ATOL:.0e} of it); not registered"
            )
    log.info(
        f"ONNX graph {target.name}: parity on {report.windows} {source} window(s), "
        f"largest difference {report.max_abs_diff:.1e}"
    )
    return report
