"""`dvc repro` of the data stages on a fresh copy of the project files, then push and pull
through a local remote configured by `sentinel init`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planet_sentinel.baseline import load_baseline
from planet_sentinel.chips import ChipStore
from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "SENTINEL_QUIET": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_repro_push_pull(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "dvc.yaml", repo)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["simulate"].update(size=512, name="tiny")
    params["chip"].update(size=128, split_block=128)
    params["train"].update(epochs=1, base=4, crop=64, batch_size=4, threads=1)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["git", "init", "-q"], repo)
    out = _run([str(BIN / "sentinel"), "init", "--remote", str(tmp_path / "remote")], repo)
    assert "initialised DVC" in out and "config.local" in out

    _run([str(BIN / "dvc"), "repro"], repo)
    store = ChipStore(repo / "data/chips/tiny")
    assert store.manifest.scene.width == 512 and 0 < len(store.chips) <= 16
    baseline = load_baseline(repo / "data/baseline.json")
    assert baseline.n_chips == store.manifest.counts["train"]
    assert "up to date" in _run([str(BIN / "dvc"), "status"], repo).lower()
    metrics = _run([str(BIN / "dvc"), "metrics", "show", "--json"], repo)
    assert "val_f1" in metrics and "overall" in metrics
    assert (repo / "runs/model_inference.pth").exists() and (repo / "mlflow.db").exists()
    assert (repo / "runs/model_inference.onnx").exists()  # the graph registration exported

    _run([str(BIN / "dvc"), "push"], repo)
    assert any((tmp_path / "remote").rglob("*")), "nothing pushed to the local remote"
    original = (repo / "data/baseline.json").read_bytes()
    shutil.rmtree(repo / "data")
    _run([str(BIN / "dvc"), "pull"], repo)
    assert (repo / "data/baseline.json").read_bytes() == original
    assert ChipStore(repo / "data/chips/tiny").arrays["before"].shape == store.arrays["before"].shape

    # A changed parameter re-runs only the stages downstream of it.
    params["baseline"]["pixel_sample"] = 1000
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    out = _run([str(BIN / "dvc"), "repro"], repo)
    assert "Running stage 'baseline'" in out and "Running stage 'train'" in out
    assert "Running stage 'simulate'" not in out and "Running stage 'chip'" not in out
