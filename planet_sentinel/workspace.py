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

One scene pair's files are named the same by every source (simulate, import, ingest):
:class:`SceneFiles` ``<name>_{before,after,mask}.tif``, ``<name>_quicklook.png`` and the source's
record ``<name>_{simulation,import,ingest}.json``.

Only the standard library is imported, so the CLI can build its defaults from it without slowing
``sentinel --help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

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
        return self.raw / scene_file_name(scene, part)


def scene_file_name(scene: str, part: str) -> str:
    """``<scene>_<part>.tif``: the file name of a scene's before, after or mask raster."""
    return f"{scene}_{part}.tif"


#: Which source wrote a scene pair; its record is ``<name>_<source>.json``.
SceneSource = Literal["simulation", "import", "ingest"]


@dataclass(frozen=True)
class SceneFiles:
    """The files of the scene pair ``name`` in ``out_dir``, as every source writes them.

    Why one class: tests, dvc.yaml and the workflows find scenes by these names, so the three
    sources (simulate, import, ingest) must not each spell them out.
    """

    out_dir: Path
    name: str
    source: SceneSource

    def raster(self, part: str) -> Path:
        """``<name>_<part>.tif``: part before, after or mask."""
        return self.out_dir / scene_file_name(self.name, part)

    @property
    def quicklook(self) -> Path:
        return self.out_dir / f"{self.name}_quicklook.png"

    @property
    def record(self) -> Path:
        """The source's JSON record of the pair (simulation statistics, import or ingest record)."""
        return self.out_dir / f"{self.name}_{self.source}.json"

    def paths(self) -> dict[str, Path]:
        """Every file by role (the keys the simulation and import records list them under)."""
        rasters = {part: self.raster(part) for part in ("before", "after", "mask")}
        return {**rasters, "quicklook": self.quicklook, "summary_json": self.record}


#: The layout the CLI defaults, dvc.yaml and `sentinel demo` use.
LOCAL = Workspace()
