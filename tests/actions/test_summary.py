"""actions/summary.sh: `--json` results become step outputs and job-summary tables; pictures are
inlined as data URIs unless they would break the 1 MiB summary limit."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "actions/summary.sh"
pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (it is on GitHub runners)")


def _summary(tmp_path: Path, *args: str) -> tuple[str, str]:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    subprocess.run(["bash", str(SCRIPT), *args], env=env, check=True, capture_output=True)
    return (output.read_text() if output.exists() else ""), (summary.read_text() if summary.exists() else "")


def _parse_outputs(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does: `key=value` lines and `key<<DELIM` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            else:
                raise AssertionError(f"unterminated value for {key}")
            values[key] = "\n".join(block)
        else:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_outputs_and_table(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"out_dir": "data/chips/x", "counts": {"train": 3}, "note": "a|b", "log": "one\ntwo"}))
    outputs, _ = _summary(tmp_path, "outputs", str(result))
    assert _parse_outputs(outputs) == {
        "out_dir": "data/chips/x",
        "counts": '{"train":3}',
        "note": "a|b",
        "log": "one\ntwo",
    }
    _, summary = _summary(tmp_path, "table", str(result), "Chips")
    assert "### Chips" in summary and "| field | value |" in summary
    assert '| counts | {"train":3} |' in summary and r"| note | a\|b |" in summary


def test_images_inline_or_pointed_to(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    small.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    _, summary = _summary(tmp_path, "image", str(small), "quicklook")
    assert f"data:image/png;base64,{base64.b64encode(small.read_bytes()).decode()}" in summary
    big = tmp_path / "big.png"
    big.write_bytes(b"0" * 700_000)
    _, summary = _summary(tmp_path, "image", str(big), "plot")
    assert "too large to inline" in summary and "base64" not in summary.split("width=")[-1]
    _, after_missing = _summary(tmp_path, "image", str(tmp_path / "missing.png"), "none")
    assert after_missing == summary  # a picture that was not written adds nothing


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr
