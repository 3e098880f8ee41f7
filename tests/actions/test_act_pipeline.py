"""The pipeline workflow under act: ingest (simulate) -> chip -> baseline -> versioned in DVC."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.actions.conftest import ActEnv, ActResult, skip_inside_act
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
