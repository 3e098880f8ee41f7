"""The reusable workflows called from ANOTHER repository under act: a repository that holds only
params.yaml and two workflows calling ours by `owner/repo/.github/workflows/x.yml@ref`, resolved
offline with act's `--local-repository`. Its pipeline versions a small simulated dataset into its
own DVC remote and commits the pointer in ITS repository; its monitor pulls that version."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.actions.conftest import ActEnv, skip_inside_act
from tools.act import outputs_from_log

pytestmark = [skip_inside_act(), pytest.mark.slow]

SENTINEL = "octo-org/planet-sentinel"
REF = "v1"


def _caller(stage: str, permissions: dict[str, str], with_: dict[str, str]) -> str:
    job = {
        "uses": f"{SENTINEL}/.github/workflows/reusable-{stage}.yml@{REF}",
        "permissions": permissions,
        "with": {"sentinel-repository": SENTINEL, "sentinel-ref": REF, **with_},
    }
    workflow = {"name": stage, "on": "workflow_dispatch", "permissions": {}, "jobs": {stage: job}}
    return yaml.safe_dump(workflow, sort_keys=False)


@pytest.fixture(scope="module")
def data_repo(act_env: ActEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("elsewhere") / "forest-watch"
    (repo / ".github/workflows").mkdir(parents=True)
    shutil.copy2(act_env.repo / "params.yaml", repo / "params.yaml")
    remote = "${{ vars.DVC_REMOTE_URL }}"
    (repo / ".github/workflows/pipeline.yml").write_text(
        _caller(
            "pipeline",
            {"contents": "write"},
            {
                "dvc-remote": remote,
                "name": "small",
                "size": "768",
                "seed": "5",
                "chip-size": "128",
                "split-block": "128",
            },
        )
    )
    (repo / ".github/workflows/monitor.yml").write_text(
        _caller(
            "monitor",
            {"contents": "write", "issues": "write", "actions": "write"},
            {"dvc-remote": remote, "new-data": "data/fresh", "simulate": "none", "model": "none"},
        )
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "data only"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    subprocess.run(
        ["git", "remote", "add", "origin", "https://github.com/octo-org/forest-watch.git"], cwd=repo, check=True
    )
    return repo


def test_another_repository_runs_pipeline_and_monitor(act_env: ActEnv, data_repo: Path) -> None:
    sentinel_head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=act_env.repo, capture_output=True, text=True)
    locals_ = {f"{SENTINEL}@{REF}": act_env.repo}

    pipeline = act_env.run("pipeline", repo=data_repo, local_repositories=locals_).check()
    assert (data_repo / "data/live.dvc").is_file(), pipeline.log[-3000:]
    log = subprocess.run(["git", "log", "--format=%s"], cwd=data_repo, capture_output=True, text=True).stdout
    assert log.startswith("data: live version "), log
    md5 = next(
        line.split(": ", 1)[1] for line in (data_repo / "data/live.dvc").read_text().splitlines() if "md5" in line
    )
    assert list(act_env.dvc_remote.rglob(md5[2:])), f"version {md5} is not in the DVC remote"
    assert "### Chips" in pipeline.summary and "data:" not in pipeline.summary
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=act_env.repo, capture_output=True, text=True)
    assert after.stdout == sentinel_head.stdout, "nothing was committed into planet-sentinel"

    monitor = act_env.run("monitor", repo=data_repo, local_repositories=locals_).check()
    outputs = outputs_from_log(monitor.log)
    assert outputs["exit_code"] in {"0", "4"}, monitor.log[-3000:]  # unchanged scenes: no drift issue needed
    assert outputs["decision"] in {"no_drift", "inconclusive"} and "data:" not in monitor.summary
