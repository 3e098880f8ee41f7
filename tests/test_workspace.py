"""The data layout has one owner (planet_sentinel.workspace): CLI defaults, dvc.yaml, the composite
actions and the workflows all agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from planet_sentinel.workspace import DEFAULT_DATASET, LOCAL, SceneFiles, SceneSource, Workspace

ROOT = Path(__file__).resolve().parents[1]


def _action_default(action: str, name: str) -> str:
    inputs = yaml.safe_load((ROOT / "actions" / action / "action.yml").read_text())["inputs"]
    return str(inputs[name]["default"])


def test_the_layout() -> None:
    assert str(LOCAL.raw) == "data/raw" and str(LOCAL.chips("demo")) == "data/chips/demo"
    assert str(LOCAL.baseline) == "data/baseline.json"
    live = Workspace("live")
    assert str(live.raw) == "data/live/raw" and str(live.chips("s1")) == "data/live/chips/s1"
    assert str(live.baseline) == "data/live/baseline.json" and str(live.latest) == "data/live/latest"
    for bad in ("", "a/b", ".."):
        with pytest.raises(ValueError, match="one folder name"):
            Workspace(bad)


def test_cli_defaults_follow_the_workspace() -> None:
    from planet_sentinel.cli import cli
    from planet_sentinel.sources.gee import IngestConfig

    def default(command: list[str], option: str) -> str:
        group = cli
        for name in command:
            group = group.commands[name]  # type: ignore[attr-defined]
        return str(next(p.default for p in group.params if p.name == option))

    assert default(["simulate"], "out_dir") == str(LOCAL.raw)
    assert default(["import", "files"], "out_dir") == str(LOCAL.raw)
    assert default(["import", "oscd"], "out_dir") == str(LOCAL.raw)
    assert default(["train"], "baseline_path") == str(LOCAL.baseline)
    assert default(["kaggle", "train"], "baseline_path") == str(LOCAL.baseline)
    assert IngestConfig.model_fields["out_dir"].default == str(LOCAL.raw)


def test_dvc_pipeline_follows_the_workspace() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    scene = "${simulate.name}"
    assert f"--out-dir {LOCAL.raw} " in stages["simulate"]["cmd"]
    assert stages["simulate"]["outs"][:3] == [str(LOCAL.scene_file(scene, p)) for p in ("before", "after", "mask")]
    assert f"--out-dir {LOCAL.chips(scene)} " in stages["chip"]["cmd"]
    assert f"--chips-dir {LOCAL.chips_root} --out {LOCAL.baseline} " in stages["baseline"]["cmd"]
    assert stages["baseline"]["outs"] == [str(LOCAL.baseline)]
    assert f"--data-dir {LOCAL.chips_root} --baseline {LOCAL.baseline} " in stages["train"]["cmd"]


def test_action_defaults_follow_the_workspace() -> None:
    # Actions a job calls on the local layout default to it; monitor compares a workflow dataset.
    assert _action_default("ingest", "out-dir") == str(LOCAL.raw)
    assert _action_default("baseline", "chips-dir") == str(LOCAL.chips_root)
    assert _action_default("baseline", "out") == str(LOCAL.baseline)
    assert _action_default("train", "data-dir") == str(LOCAL.chips_root)
    assert _action_default("train", "baseline") == str(LOCAL.baseline)
    assert _action_default("evaluate-promote", "chips-dir") == str(LOCAL.chips_root)
    live = Workspace(DEFAULT_DATASET)
    assert _action_default("monitor", "baseline") == str(live.baseline)
    assert _action_default("monitor", "new-data") == str(live.raw)


#: A dataset path in workflow YAML: data/ then the dataset as an expression or a shell variable.
DATASET_PATH = re.compile(r"data/(\$\{\{ ?(?:env|inputs)\.(?:DATASET|dataset) ?\}\}|\$DATASET|\{0\})([^\s\"')]*)")


def test_workflow_paths_follow_the_workspace() -> None:
    found = defaults = 0
    for path in sorted((ROOT / "workflows-src").glob("*.yml")):
        text = path.read_text()
        for match in DATASET_PATH.finditer(text):
            found += 1
            ws = Workspace(match.group(1))
            full = f"data/{match.group(1)}{match.group(2)}"
            known = {str(ws.raw), str(ws.chips_root), str(ws.baseline), str(ws.latest), f"{ws.base}.dvc"}
            assert full in known or full.startswith(f"{ws.chips_root}/"), f"{path.name}: {full} is not a Workspace path"
        triggers = yaml.safe_load(text).get(True) or {}  # YAML reads the key `on` as True
        for trigger in ("workflow_call", "workflow_dispatch"):
            inputs = (triggers.get(trigger) or {}).get("inputs") or {}
            if "dataset" in inputs:
                defaults += 1
                assert inputs["dataset"]["default"] == DEFAULT_DATASET, f"{path.name} {trigger}"
    assert found >= 10 and defaults >= 6  # pipeline, train and monitor (reusable and not) address a dataset


@pytest.mark.parametrize("source", ["simulation", "import", "ingest"])
def test_every_source_names_a_scene_pair_alike(source: SceneSource) -> None:
    """simulate, import and ingest write the names dvc.yaml, the workflows and chip look for."""
    files = SceneFiles(Path("out"), "s1", source)
    assert {role: path.as_posix() for role, path in files.paths().items()} == {
        "before": "out/s1_before.tif",
        "after": "out/s1_after.tif",
        "mask": "out/s1_mask.tif",
        "quicklook": "out/s1_quicklook.png",
        "summary_json": f"out/s1_{source}.json",
    }
    assert Workspace("live").scene_file("s1", "after").as_posix() == "data/live/raw/s1_after.tif"
