"""actions/summary.sh: `--json` results become step outputs and job-summary tables; pictures are
linked to the artifact that holds them, never inlined (GitHub drops `data:` URIs)."""

from __future__ import annotations

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


def test_pictures_are_linked_never_inlined(tmp_path: Path) -> None:
    plot = tmp_path / "bands.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    url = "https://github.com/octo-org/planet-sentinel/actions/runs/7/artifacts/42"
    _, summary = _summary(tmp_path, "pictures", url, "Drift plots", str(plot), str(tmp_path / "features.png"))
    assert f"[Drift plots]({url})" in summary and "`bands.png`" in summary
    assert "features.png" not in summary, "a picture that was not written is not listed"
    assert "data:" not in summary and "base64" not in summary and "<img" not in summary


def test_pictures_without_upload_or_files(tmp_path: Path) -> None:
    plot = tmp_path / "evaluation.png"
    plot.write_bytes(b"\x89PNG")
    _, summary = _summary(tmp_path, "pictures", "", "Evaluation", str(plot))
    assert "`evaluation.png` were not uploaded" in summary and "](" not in summary
    _, again = _summary(tmp_path, "pictures", "https://x.example/a", "None", str(tmp_path / "missing.png"))
    assert again == summary  # no picture written: nothing added


def test_pictures_refuse_a_data_uri(tmp_path: Path) -> None:
    plot = tmp_path / "p.png"
    plot.write_bytes(b"\x89PNG")
    env = {"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    proc = subprocess.run(
        ["bash", str(SCRIPT), "pictures", "data:image/png;base64,AAAA", "x", str(plot)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "not an http(s) URL" in proc.stderr
    assert not (tmp_path / "s.md").exists() or "data:" not in (tmp_path / "s.md").read_text()


def test_summary_copy_for_act(tmp_path: Path) -> None:
    copy = tmp_path / "copy.md"
    env = {"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"), "SENTINEL_SUMMARY_COPY": str(copy)}
    subprocess.run(["bash", str(SCRIPT), "text", "### Dataset `live`"], env=env, check=True)
    assert (tmp_path / "s.md").read_text() == copy.read_text() == "### Dataset `live`\n\n"


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr
