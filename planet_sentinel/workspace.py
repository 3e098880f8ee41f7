"""Where every stage reads and writes: the one owner of the data layout.

Why: the layout used to live in three places (workflow YAML used ``data/<dataset>/...``, dvc.yaml
and the CLI defaults ``data/raw`` and ``data/baseline.json``). Everything now derives its paths
from :class:`Workspace`; tests/test_workspace.py checks that the CLI defaults, dvc.yaml, the
composite actions and the workflows agree with it.

Two forms of one layout::

    data/                      Workspace()               the local layout (sentinel demo, dvc.yaml)
      raw/                     .raw                      scene pairs <name>_{before,after,mask}.tif
      chips/<scene>/           .chips(scene)             chips + manifest.json, one folder per scene
      baseline.json            .baseline                 training-chip statistics
    data/<dataset>/            Workspace("live")         a dataset the workflows version with DVC
      raw/ chips/<scene>/ baseline.json
      latest                   .latest                   name of the newest scene (for monitor)
      alerts/                  .alerts                   the alert store (sentinel alerts)

Only the standard library is imported, so the CLI can build its defaults from it without slowing
``sentinel --help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

#: The dataset the workflows use when the caller names none (workflow input ``dataset``).
DEFAULT_DATASET = "live"


@dataclass(frozen=True)
class Workspace:
    """The paths of one dataset under ``root``; ``dataset=None`` is the local layout (``data/raw``...)."""

    dataset: str | None = None
    root: PurePosixPath = PurePosixPath("data")

    def __post_init__(self) -> None:
        if self.dataset is not None and (not self.dataset or "/" in self.dataset or self.dataset in (".", "..")):
            raise ValueError(f"dataset {self.dataset!r} must be one folder name under {self.root}/")

    @property
    def base(self) -> PurePosixPath:
        """The dataset's folder (what DVC versions as ``<base>.dvc``)."""
        return self.root / self.dataset if self.dataset is not None else self.root

    @property
    def raw(self) -> PurePosixPath:
        return self.base / "raw"

    @property
    def chips_root(self) -> PurePosixPath:
        """Every scene's chips (training and the baseline search it recursively)."""
        return self.base / "chips"

    def chips(self, scene: str) -> PurePosixPath:
        return self.chips_root / scene

    @property
    def baseline(self) -> PurePosixPath:
        return self.base / "baseline.json"

    @property
    def latest(self) -> PurePosixPath:
        """A one-line file naming the newest scene of the dataset (written by the pipeline workflow)."""
        return self.base / "latest"

    @property
    def alerts(self) -> PurePosixPath:
        """The alert store: every alert of the dataset, period after period (`sentinel alerts --store`)."""
        return self.base / "alerts"

    def scene_file(self, scene: str, part: str) -> PurePosixPath:
        """``raw/<scene>_<part>.tif`` for part before, after or mask."""
        return self.raw / f"{scene}_{part}.tif"


#: The layout the CLI defaults, dvc.yaml and `sentinel demo` use.
LOCAL = Workspace()
