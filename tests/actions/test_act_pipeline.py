"""The pipeline workflow under act: ingest (simulate) -> chip -> baseline -> versioned in DVC."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.actions.conftest import ActEnv, ActResult, skip_inside_act
from tests.actions.declared import undeclared_outputs_in_log
from tests.conftest import REPO_ROOT
from tools.act import outputs_from_log

pytestmark = [skip_inside_act(), pytest.mark.slow]


def test_pipeline_versions_the_dataset(act_env: ActEnv, pipeline_run: ActResult) -> None:
    log = pipeline_run.check().log
    outputs = outputs_from_log(log)
    assert outputs["before"] == "data/live/raw/tiny_before.tif"
    assert json.loads(outputs["counts"])["train"] >= 10

    # The pointer was committed (as the workflow's git push would on GitHub) and names a directory
    # whose files are all in the DVC remote.
    pointer = act_env.repo / "data/live.dvc"
    out = yaml.safe_load(pointer.read_text())["outs"][0]
    assert out["path"] == "live" and out["md5"].endswith(".dir") and out["nfiles"] >= 6
    last = subprocess.run(
        ["git", "log", "-1", "--format=%s", "--", "data/live.dvc"], cwd=act_env.repo, capture_output=True, text=True
    )
    assert last.stdout.startswith("data: live version " + out["md5"])
    stored = [p for p in act_env.dvc_remote.rglob("*") if p.is_file()]
    assert len(stored) >= out["nfiles"]
    # Nothing of the data landed in the repository itself: jobs share data only through the remote.
    assert not (act_env.repo / "data/live").exists()


def test_pipeline_from_earth_engine(act_env: ActEnv, tmp_path: Path) -> None:
    """source=gee through the Earth Engine emulator: the real client, a service-account key in
    the secret, the AOI and project from repository variables; its own dataset `gee`."""
    from tools.emulators.earthengine import EarthEngineEmulator

    with EarthEngineEmulator(tmp_path / "ee-scene", size=512, seed=5) as emulator:
        aoi = tmp_path / "aoi.geojson"
        aoi.write_text(json.dumps(emulator.aoi(64, 64, 448, 448)))
        env = emulator.environ()
        key = env.pop("EARTHENGINE_SERVICE_ACCOUNT_KEY")
        result = act_env.run(
            "pipeline",
            inputs={"source": "gee", "name": "ee", "dataset": "gee", "chip-size": "128", "split-block": "128"},
            variables={"GEE_PROJECT": "emulated-project", "SENTINEL_AOI": str(aoi)},
            secrets={"EARTHENGINE_SERVICE_ACCOUNT_KEY": key},
            env=env,
        ).check()
        requests = [entry for entry in emulator.log if "computePixels" in str(entry.get("path", ""))]
    outputs = outputs_from_log(result.log)
    assert outputs["before"] == "data/gee/raw/ee_before.tif" and outputs["mask"] == "data/gee/raw/ee_mask.tif"
    assert json.loads(outputs["counts"])["train"] > 0
    assert requests, "the ingest reached the Earth Engine emulator"
    pointer = yaml.safe_load((act_env.repo / "data/gee.dvc").read_text())["outs"][0]
    assert pointer["path"] == "gee" and pointer["md5"].endswith(".dir")


def test_pipeline_writes_only_declared_outputs(pipeline_run: ActResult) -> None:
    """On a real run, each action step wrote exactly its declared outputs and each inner step
    exactly what its action reads (not every key of the command's JSON result)."""
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/reusable-pipeline.yml").read_text())
    assert undeclared_outputs_in_log(pipeline_run.check().log, workflow, REPO_ROOT) == []
