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
    outputs, _ = _summary(tmp_path, "outputs", str(result), "out_dir", "counts", "note", "log")
    assert _parse_outputs(outputs) == {
        "out_dir": "data/chips/x",
        "counts": '{"train":3}',
        "note": "a|b",
        "log": "one\ntwo",
    }
    _, summary = _summary(tmp_path, "table", str(result), "Chips")
    assert "### Chips" in summary and "| field | value |" in summary
    assert '| counts | {"train":3} |' in summary and r"| note | a\|b |" in summary


def _outputs_run(tmp_path: Path, payload: str, *keys: str) -> tuple[subprocess.CompletedProcess[str], str]:
    result, output = tmp_path / "result.json", tmp_path / "output"
    result.write_text(payload)
    env = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output)}
    proc = subprocess.run(
        ["bash", str(SCRIPT), "outputs", str(result), *keys], env=env, capture_output=True, text=True, check=False
    )
    return proc, (output.read_text() if output.exists() else "")


def test_outputs_are_only_the_keys_named(tmp_path: Path) -> None:
    """The action's declared outputs, not every key of the command's JSON."""
    payload = json.dumps({"f1": 0.81, "iou": 0.7, "json": "out/evaluation.json", "promoted": False, "mask": None})
    proc, written = _outputs_run(tmp_path, payload, "f1", "promoted", "mask", "quicklook?")
    assert proc.returncode == 0, proc.stderr
    # null and an absent optional key are empty, as an output GitHub never got; false stays "false".
    assert _parse_outputs(written) == {"f1": "0.81", "promoted": "false", "mask": "", "quicklook": ""}


@pytest.mark.parametrize(
    ("payload", "keys", "message"),
    [
        ('{"f1": 0.8}', ("f1", "model_version"), "has no model_version (it has: f1)"),
        ("", ("f1",), "is not a JSON object"),
        ("[1, 2]", ("f1",), "is not a JSON object"),
        ('{"f1": 0.8}', (), "usage: summary.sh outputs FILE.json KEY..."),
    ],
)
def test_outputs_refuse_missing_keys_and_bad_results(
    tmp_path: Path, payload: str, keys: tuple[str, ...], message: str
) -> None:
    proc, written = _outputs_run(tmp_path, payload, *keys)
    assert proc.returncode == 2 and message in proc.stderr
    assert written == "", "nothing is written when a declared output is missing"


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
