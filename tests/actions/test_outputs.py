"""Action outputs are declared, not "every JSON key": each step writes exactly the outputs the
action reads of it, and workflows read only the outputs an action declares. Static, from the
action.yml files and the rendered workflows (the act runs check the same on a real run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.actions.declared import declared_outputs, load, read_outputs, written_outputs
from tests.conftest import REPO_ROOT

ACTIONS = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
WORKFLOWS = sorted((REPO_ROOT / ".github/workflows").glob("*.yml"))


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_each_step_writes_exactly_what_the_action_reads(path: Path) -> None:
    action = load(path)
    written = written_outputs(action)
    read = read_outputs(path.read_text())
    step_ids = {step.get("id") for step in action["runs"]["steps"]}
    assert set(read) <= step_ids, f"{path}: outputs read of steps that do not exist: {set(read) - step_ids}"
    for step_id, outputs in written.items():
        wanted = read.get(step_id, set())
        assert outputs.written == wanted, (
            f"{path}: step {step_id} writes {sorted(outputs.written)} but the action reads {sorted(wanted)}"
        )
        assert not outputs.json_keys & outputs.echoed, f"{path}: step {step_id} writes a key twice"


def test_every_action_output_is_mapped_from_a_step_or_an_input() -> None:
    for path in ACTIONS:
        action = load(path)
        for name, spec in declared_outputs(action).items():
            value = spec["value"]
            assert read_outputs(value) or "inputs." in value, f"{path}: output {name} = {value} maps nothing"


def _local_action(uses: str) -> Path | None:
    for prefix in ("./.planet-sentinel/actions/", "./actions/"):
        if uses.startswith(prefix):
            return REPO_ROOT / "actions" / uses.removeprefix(prefix) / "action.yml"
    return None


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflows_read_only_declared_outputs(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    for job_name, job in workflow["jobs"].items():
        read = read_outputs(yaml.safe_dump(job))
        for step in job.get("steps") or []:
            action = _local_action(step.get("uses", ""))
            if action is None or "id" not in step:
                continue
            undeclared = read.get(step["id"], set()) - set(declared_outputs(load(action)))
            assert not undeclared, f"{path.name} job {job_name} reads undeclared outputs {undeclared} of {action}"
