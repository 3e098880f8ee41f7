"""Kaggle kernel: train the planet_sentinel Siamese U-Net on the attached dataset.

Pushed by `sentinel kaggle train` (or `sentinel train --on kaggle`) together with a rendered
kernel-metadata.json. No training logic lives here: this script finds the dataset bundle,
verifies its checksums, installs the planet_sentinel wheel it carries (``pip --no-index``; the
kernel has no internet) and calls ``planet_sentinel.kaggle.entry.run``, which runs the same
``planet_sentinel.train.train`` as local training (CUDA with mixed precision when Kaggle gives a
GPU, CPU otherwise) and writes model.pt, history.json, val_predictions.png and run.json.

Deadline: `sentinel kaggle train` writes the time this run must end by into ``DEADLINE_UTC``
when it pushes the script (the line marked ``# sentinel:deadline``). A kernel that starts after
it exits at once; one still training then writes a ``timed_out`` run.json and exits with status
124 (``planet_sentinel.kaggle.deadline``), so an overrunning run stops using GPU quota by itself.

Directories (overridable so the local emulator can run this script):
  SENTINEL_KAGGLE_INPUT    attached datasets      (default /kaggle/input)
  SENTINEL_KAGGLE_WORKING  outputs                (default /kaggle/working)
  SENTINEL_KAGGLE_SCRATCH  unpacked bundle, venv  (default: a fresh temporary directory)
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BUNDLE_MANIFEST = "sentinel-bundle.json"
INPUT = Path(os.environ.get("SENTINEL_KAGGLE_INPUT", "/kaggle/input"))
WORKING = Path(os.environ.get("SENTINEL_KAGGLE_WORKING", "/kaggle/working"))
SCRATCH = Path(os.environ.get("SENTINEL_KAGGLE_SCRATCH") or tempfile.mkdtemp(prefix="sentinel-"))
DEADLINE_EXIT = 124
DEADLINE_UTC: float | None = None  # sentinel:deadline


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def locate_bundle() -> tuple[Path, dict]:
    found = sorted(INPUT.rglob(BUNDLE_MANIFEST))
    if len(found) != 1:
        sys.exit(f"expected one {BUNDLE_MANIFEST} under {INPUT}, found {len(found)}: attach the training dataset")
    return found[0], json.loads(found[0].read_text())


def unpack(manifest_path: Path, manifest: dict) -> Path:
    """The bundle's root directory: the archive extracted here, or the tree Kaggle extracted."""
    archive = manifest_path.parent / manifest["archive"]["name"]
    if archive.is_file():
        if sha256(archive) != manifest["archive"]["sha256"]:
            sys.exit(f"{archive}: checksum differs from {BUNDLE_MANIFEST}; the dataset is corrupt")
        root = SCRATCH / "bundle"
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    sys.exit(f"{archive}: unsafe member name {name!r}")
            zf.extractall(root)
        return root
    wheel = Path(manifest["wheel"])
    for candidate in sorted(manifest_path.parent.rglob(wheel.name)):
        root = candidate.parents[len(wheel.parts) - 1]
        if (root / wheel).is_file():
            return root
    sys.exit(f"neither {archive.name} nor its extracted contents found next to {manifest_path}")


def verify(root: Path, manifest: dict) -> None:
    bad = [name for name, digest in manifest["files"].items() if sha256(root / name) != digest]
    if bad:
        sys.exit(f"checksum mismatch for {', '.join(bad[:5])}; the dataset is corrupt")


def install(root: Path, manifest: dict) -> None:
    target = SCRATCH / "site-packages"
    wheel = root / manifest["wheel"]
    command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", "--target", str(target)]
    subprocess.run([*command, str(wheel)], check=True)
    sys.path.insert(0, str(target))


def check_deadline() -> None:
    """Exit at once when the run starts after its deadline (it waited too long in Kaggle's queue)."""
    if DEADLINE_UTC is not None and time.time() >= DEADLINE_UTC:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(DEADLINE_UTC))
        print(f"deadline {when} passed before the kernel started: the kernel stops itself", file=sys.stderr)
        sys.exit(DEADLINE_EXIT)


def main() -> None:
    check_deadline()
    manifest_path, manifest = locate_bundle()
    print(f"bundle {manifest_path} (sha256 {manifest['archive']['sha256'][:12]})", flush=True)
    root = unpack(manifest_path, manifest)
    verify(root, manifest)
    install(root, manifest)
    from planet_sentinel.kaggle.entry import run

    run(root, WORKING, manifest, SCRATCH / "run", deadline=DEADLINE_UTC)


if __name__ == "__main__":
    main()
