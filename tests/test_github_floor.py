"""The PyGithub floor in pyproject (>=2.9) is true: the floor version itself drives a drift report
with a picture and a dispatch against the emulator, and the release before it is refused at import
with a message naming the version needed (``create_dispatch(throw=...)`` appeared in 2.9.0).

Each version is installed with ``pip install --no-deps --target`` into a temporary folder put first
on PYTHONPATH, so its dependencies come from this venv (about 2 s each, from the package index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planet_sentinel.github.compat import PYGITHUB_FLOOR

ROOT = Path(__file__).resolve().parents[1]
BEFORE_FLOOR = "2.8.1"

SCRIPT = """
import json, sys
from importlib.metadata import version
from pathlib import Path
from github import Auth, Github
import planet_sentinel.github as gh
from tools.emulators.github import DEFAULT_REPO, GitHubEmulator

out = Path(sys.argv[1])
(out / "bands.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(32))
data = {"schema": "planet-sentinel/drift-report", "decision": {"status": "drift", "drifted": ["band B04"],
        "summary": "s"}, "signals": [{"name": "band B04", "group": "bands"}], "baseline": {"fingerprint": "f"}}
with GitHubEmulator() as em:
    client = Github(base_url=em.url, auth=Auth.Token("t"), seconds_between_requests=0, seconds_between_writes=0)
    repo = client.get_repo(DEFAULT_REPO)
    result = gh.report_drift(repo, gh.DriftReport(data, "## Drift", []), auto_retrain=True,
                             images=[out / "bands.png"], run_key="1-1")
    print(json.dumps({"pygithub": version("PyGithub"), "module": __import__("github").__file__,
                      "result": result.to_dict(), "dispatches": em.dispatches(), "body": em.issues()[0]["body"]}))
"""


def install(version: str, target: Path) -> Path:
    if not target.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            f"PyGithub=={version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            pytest.skip(f"cannot install PyGithub=={version} from the package index: {proc.stderr.strip()[-300:]}")
    return target


def run_with(target: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_floor_version_dispatches_and_publishes(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    floor = f"{PYGITHUB_FLOOR}.0"
    proc = run_with(install(floor, tmp_path_factory.mktemp("pygithub-floor") / "site"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["pygithub"] == floor and "pygithub-floor" in out["module"]  # the old copy, not the venv's
    assert out["result"]["action"] == "opened" and out["result"]["dispatched"] is True
    assert [d["inputs"] for d in out["dispatches"]] == [{"drift_issue": "1"}]
    assert "/drift/" in out["body"] and "/1-1/bands.png?raw=true)" in out["body"]


def test_version_before_the_floor_is_refused_at_import(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    target = install(BEFORE_FLOOR, tmp_path_factory.mktemp("pygithub-old") / "site")
    proc = run_with(target, tmp_path)
    assert proc.returncode != 0
    assert f"PyGithub {BEFORE_FLOOR} is too old: planet-sentinel needs PyGithub>={PYGITHUB_FLOOR}" in proc.stderr
    assert "TypeError" not in proc.stderr  # not the failure at the first dispatch
    # the CLI says it in one line with exit code 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    cli = [sys.executable, "-m", "planet_sentinel.cli", "github", "report-drift", "--report", str(tmp_path)]
    proc = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"Error: PyGithub {BEFORE_FLOOR} is too old" in proc.stderr and "pip install 'PyGithub>=2.9'" in proc.stderr
