"""The region workflow under act: a 4-tile plan in a 2-job matrix, each tile ingested through the Earth
Engine emulator (the real client), predicted with the champion the train run promoted (the session's
MLflow server), merged, and ONE issue opened in the GitHub emulator; a tile that fails on every try
is listed as failed. A second run of the same period finds the same result and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.actions.conftest import ActEnv, ActResult, skip_inside_act
from tests.region.test_job import corner_aoi
from tools.emulators.earthengine import EarthEngineEmulator, Faults

pytestmark = [skip_inside_act(), pytest.mark.slow]


def _region_issues(github_emulator: Any) -> list[dict[str, Any]]:
    return [i for i in github_emulator.issues() if "region-alerts" in i["labels"]]


def test_region_workflow_opens_one_issue_per_period(
    act_env: ActEnv, train_run: ActResult, github_emulator: Any, tmp_path: Path
) -> None:
    from planet_sentinel.region.plan import PlanConfig, plan_region

    train_run.check()  # planet-sentinel@champion is version 1 on the session's MLflow server
    aoi = corner_aoi(tmp_path / "corner.geojson")
    plan = plan_region(aoi, PlanConfig(tile_km=1.28, margin_m=160))
    broken = plan.tiles[1]
    # its before composite fails on every request: twice per run (the attempt and the retry), two runs
    faults = Faults(failing_tiles={("before", broken.read_bounds[0], broken.read_bounds[3]): 4})
    inputs = {"aoi": str(aoi), "period-start": "2024-01-01", "period-end": "2024-01-31"}
    inputs |= {"tile-km": "1.28", "max-jobs": "2", "region": "corner"}
    runs: list[ActResult] = []
    with EarthEngineEmulator(tmp_path / "ee", size=512, seed=3, faults=faults) as emulator:
        env = emulator.environ()
        key = env.pop("EARTHENGINE_SERVICE_ACCOUNT_KEY")
        env |= {"SENTINEL_REGION_MARGIN_M": "160", "SENTINEL_INGEST_RETRIES": "0"}
        for number in (1, 2):
            shared = tmp_path / f"artifacts-{number}"
            runs.append(
                act_env.run(
                    "region",
                    inputs=inputs,
                    variables={"GEE_PROJECT": "emulated-project"},
                    secrets={"EARTHENGINE_SERVICE_ACCOUNT_KEY": key},
                    env={**env, "SENTINEL_ACT_ARTIFACTS": str(shared)},
                    github_url=github_emulator.url,
                )
            )
            if number == 1:
                (opened,) = _region_issues(github_emulator)
                first_body = opened["body"]
    first, second = runs
    # the broken tile's job is red (its tile failed twice), the merge ran anyway and reported it
    assert first.returncode != 0 and '"action": "opened"' in first.log, first.log[-6000:]
    assert '"action": "unchanged"' in second.log, second.log[-6000:]
    assert f"Region {aoi}, 2024-01-01 to 2024-01-31" in first.summary
    # the region's map was built and checked (links, budget); nothing is published under act
    assert "### Site" in first.summary and "_Not published with GitHub Pages in this run._" in first.summary

    (issue,) = _region_issues(github_emulator)
    assert issue["title"].startswith("Deforestation alerts: corner, 2024-01-01 to 2024-01-31")
    assert "1 of 4 tiles failed" in issue["title"]
    body = issue["body"]
    assert f"| `{broken.id}` | **failed** |" in body and "attempt 2:" in body
    for tile in plan.tiles:
        if tile.id != broken.id:
            assert f"| `{tile.id}` | ok |" in body
    assert body == first_body and issue["comments"] == []  # the second run changed nothing

    stored = next(iter((tmp_path / "artifacts-1" / "region-tiles").rglob("*_alerts.geojson")))
    assert json.loads(stored.read_text())["type"] == "FeatureCollection"
