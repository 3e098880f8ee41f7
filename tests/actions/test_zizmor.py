"""zizmor (static security analysis of GitHub Actions) on the rendered workflows and the actions:
clean at medium severity and above, offline (no GitHub token, no online audits). Suppressions
live in place, each with its reason; in workflows-src they are written as `$zizmor-ignore`, which
the renderer turns into zizmor's `# zizmor: ignore[rule] reason` comment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools import workflows as wf

BIN = Path(sys.executable).parent


def _zizmor(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("zizmor", path=str(BIN)) or shutil.which("zizmor")
    if binary is None:
        pytest.skip("zizmor is not installed (dev extra)")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO_ROOT), "NO_COLOR": "1"}  # no GH_TOKEN: offline
    cmd = [binary, "--offline", "--no-progress", "--format", "json", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)


def test_zizmor_clean_at_medium_and_above() -> None:
    proc = _zizmor("--min-severity", "medium", ".github/workflows", "actions")
    findings = json.loads(proc.stdout or "[]")
    shown = [f"{f['ident']}: {f['locations'][0]['symbolic']['key']}" for f in findings]
    assert proc.returncode == 0 and findings == [], "\n".join(shown) + proc.stderr[-2000:]


def test_every_suppression_says_why() -> None:
    for path in [*(REPO_ROOT / ".github/workflows").glob("*.yml"), *(REPO_ROOT / "actions").glob("*/action.yml")]:
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                reason = line.split("]", 1)[1].strip()
                assert len(reason.split()) >= 5, f"{path.name}: suppression without a reason: {line.strip()}"


def test_renderer_carries_ignore_comments(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text(
        "on:\n  issue_comment:\n    types: [created]\n"
        "    $zizmor-ignore:\n      dangerous-triggers: needed for approvals\n"
        "jobs:\n  j:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n      - run: echo hi\n"
    )
    text = wf.render_all(tmp_path)["x.yml"]
    assert "  issue_comment: # zizmor: ignore[dangerous-triggers] needed for approvals\n" in text
    assert "$zizmor-ignore" not in text and wf.load_yaml(text)["on"]["issue_comment"] == {"types": ["created"]}
    (tmp_path / "x.yml").write_text("on:\n  push:\n    $zizmor-ignore: {dangerous-triggers: ''}\njobs: {}\n")
    with pytest.raises(wf.RenderError, match="reason"):
        wf.render_all(tmp_path)


def test_zizmor_sees_a_persisted_checkout(tmp_path: Path) -> None:
    """The test can fail: a checkout that keeps its credentials is a finding."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n"
        f"      - uses: actions/checkout@{wf.PINS['actions/checkout@v7.0.1']} # v7.0.1\n"
        "      - uses: actions/upload-artifact@" + wf.PINS["actions/upload-artifact@v7.0.0"] + " # v7.0.0\n"
        "        with: {path: .}\n"
    )
    findings = json.loads(_zizmor("--min-severity", "medium", str(bad)).stdout or "[]")
    assert "artipacked" in {f["ident"] for f in findings}
