"""The Kaggle dataset a kernel trains from: chips + the planet_sentinel wheel + settings, packed
as one archive with a checksummed manifest beside it.

Kaggle kernels have no internet (``enable_internet: false``), so the code travels as a wheel in
the same dataset as the data, and the kernel installs it with ``pip --no-index``. Chips travel
as their few large ``.npy`` files plus manifests (never thousands of small files).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from planet_sentinel import __version__
from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.manifest import (
    ARCHIVE_NAME,
    BUNDLE_MANIFEST,
    BUNDLE_SCHEMA,
    BUNDLE_SCHEMA_VERSION,
    ArchiveInfo,
    BundleManifest,
)

if TYPE_CHECKING:
    from planet_sentinel.baseline import Baseline
    from planet_sentinel.chips import ChipStore
    from planet_sentinel.train.config import Scalar

log = logging.getLogger(__name__)

__all__ = [
    "ARCHIVE_NAME",
    "BUNDLE_MANIFEST",
    "BUNDLE_SCHEMA",
    "BUNDLE_SCHEMA_VERSION",
    "BundleManifest",
    "DatasetBundle",
    "build_wheel",
    "check_chips",
    "pack_dataset",
    "sha256_file",
    "source_root",
]

CHUNK = 1 << 20
#: An archive member: its name inside the archive and a file to copy or the bytes to write.
Member = tuple[str, Path | bytes]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class DatasetBundle:
    """An upload folder: the archive and ``sentinel-bundle.json`` (its checksum, every member's)."""

    folder: Path
    archive: Path
    manifest: BundleManifest

    @property
    def sha256(self) -> str:
        return self.manifest.archive.sha256

    @property
    def size(self) -> int:
        return self.manifest.archive.size


def check_chips(data_dir: str | Path) -> list[ChipStore]:
    """The chip stores under ``data_dir``, refused early (before any upload) if unusable for training."""
    from planet_sentinel.train import training_stores

    return training_stores(data_dir)


def source_root() -> Path:
    """The source checkout planet_sentinel is imported from (needed to build the wheel)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "planet-sentinel"' not in pyproject.read_text():
        raise SentinelError(
            f"planet_sentinel is not imported from a source checkout ({root}); pass --wheel with a built wheel "
            "(`pip wheel --no-deps .` in the repository)"
        )
    return root


def build_wheel(out_dir: str | Path, source: Path | None = None) -> Path:
    """``pip wheel --no-deps`` of planet_sentinel, built from a private copy of the sources so
    concurrent builds never share a ``build/`` directory."""
    source = source or source_root()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sentinel-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (source / name).exists():
                shutil.copy2(source / name, src / name)
        shutil.copytree(
            source / "planet_sentinel", src / "planet_sentinel", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        built = Path(tmp) / "dist"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(built)]
        if importlib.util.find_spec("setuptools") is not None:
            # Offline and fast when the build backend is already here; otherwise pip fetches it.
            command.append("--no-build-isolation")
        proc = subprocess.run([*command, str(src)], capture_output=True, text=True)
        wheels = sorted(built.glob("planet_sentinel-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise SentinelError(f"building the planet_sentinel wheel failed (pip exit {proc.returncode}):\n{tail}")
        target = out_dir / wheels[0].name
        shutil.move(str(wheels[0]), target)
    return target


def _chip_files(store: ChipStore) -> list[Path]:
    from planet_sentinel.chips import MANIFEST

    return [store.directory / MANIFEST, *(store.directory / meta.file for meta in store.manifest.arrays.values())]


def _members(
    stores: Sequence[ChipStore], train_config: Mapping[str, Scalar], wheel: Path, baseline: Baseline | None
) -> tuple[list[Member], list[str]]:
    """What the archive holds (wheel, chips, settings, baseline) and the chip directories in it."""
    members: list[Member] = [(f"wheels/{wheel.name}", wheel)]
    chip_dirs = []
    for number, store in enumerate(stores):
        prefix = f"chips/{number:03d}-{store.directory.name}"
        chip_dirs.append(prefix)
        members += [(f"{prefix}/{path.name}", path) for path in _chip_files(store)]
    members.append(("train_config.json", json.dumps(dict(train_config), indent=1).encode()))
    if baseline is not None:
        members.append(("baseline.json", json.dumps(baseline.to_dict()).encode()))
    return members, chip_dirs


def _check_size(members: Sequence[Member], max_bytes: int) -> None:
    total = sum(len(m) if isinstance(m, bytes) else m.stat().st_size for _, m in members)
    if total > max_bytes:
        raise SentinelError(
            f"the training bundle is {total / 1024**3:.2f} GB, over the limit of {max_bytes / 1024**3:.2f} GB per "
            "Kaggle dataset (Kaggle allows 200 GB per dataset); train on fewer chips or split the data"
        )


def _write_archive(archive: Path, members: Sequence[Member]) -> dict[str, str]:
    """Write the archive; returns every member's sha256 by name."""
    checksums: dict[str, str] = {}
    # Stored, not deflated: reflectance arrays barely compress and two CPU cores would spend
    # minutes on it; Kaggle counts uncompressed size against its limits anyway.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, member in members:
            if isinstance(member, bytes):
                zf.writestr(name, member)
                checksums[name] = hashlib.sha256(member).hexdigest()
            else:
                zf.write(member, name)
                checksums[name] = sha256_file(member)
            log.debug(f"packed {name}")
    return checksums


def pack_dataset(
    stores: Sequence[ChipStore],
    out_dir: str | Path,
    train_config: Mapping[str, Scalar],
    wheel: Path,
    baseline: Baseline | None = None,
    max_bytes: int | None = None,
) -> DatasetBundle:
    """Write ``out_dir/sentinel-bundle.zip`` (wheel, chips, settings) and ``sentinel-bundle.json``.

    ``train_config`` is what the kernel validates as its TrainConfig (the round trip passes
    ``TrainConfig.model_dump()``). The size is checked against Kaggle's per-dataset limit before a
    byte is written.
    """
    from planet_sentinel.baseline import data_fingerprint
    from planet_sentinel.kaggle.settings import MAX_DATASET_BYTES

    members, chip_dirs = _members(stores, train_config, wheel, baseline)
    _check_size(members, max_bytes or MAX_DATASET_BYTES)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / ARCHIVE_NAME
    checksums = _write_archive(archive, members)
    manifest = BundleManifest(
        schema_version=BundleManifest.SCHEMA_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        planet_sentinel_version=__version__,
        archive=ArchiveInfo(name=ARCHIVE_NAME, sha256=sha256_file(archive), size=archive.stat().st_size),
        wheel=f"wheels/{wheel.name}",
        chips=chip_dirs,
        files=checksums,
        train_config=dict(train_config),
        baseline="baseline.json" if baseline is not None else None,
        fingerprint=data_fingerprint(list(stores)),
        bands=list(stores[0].bands),
    )
    manifest.save(out_dir / BUNDLE_MANIFEST)
    return DatasetBundle(out_dir, archive, manifest)
