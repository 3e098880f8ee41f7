"""The kernel's own deadline: written into the pushed script, enforced by a watchdog that writes a
``timed_out`` run record and ends the process, so an overrunning Kaggle run stops by itself."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from planet_sentinel.kaggle.deadline import EXIT_CODE, MARKER, SAYING, Watchdog, render_script

KERNEL_SCRIPT = Path(__file__).resolve().parents[1] / "kernels" / "siamese-unet" / "train_kernel.py"


def _assigned(text: str, name: str) -> object:
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id == name:
                return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise AssertionError(f"{name} not assigned")


def test_the_deadline_is_written_into_the_kernel_script() -> None:
    original = KERNEL_SCRIPT.read_text()
    assert _assigned(original, "DEADLINE_UTC") is None
    rendered, found = render_script(original, 1_900_000_000.5)
    assert found and _assigned(rendered, "DEADLINE_UTC") == 1_900_000_000.5
    assert rendered.count(MARKER) == original.count(MARKER), "only the assignment line changed"
    assert len(rendered.splitlines()) == len(original.splitlines())
    assert render_script("print('custom kernel')\n", 1.0) == ("print('custom kernel')\n", False)


def test_a_kernel_queued_past_its_deadline_exits_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTINEL_KAGGLE_INPUT", str(tmp_path))
    monkeypatch.setenv("SENTINEL_KAGGLE_SCRATCH", str(tmp_path / "scratch"))
    rendered, _ = render_script(KERNEL_SCRIPT.read_text(), time.time() - 5)
    script = tmp_path / "train_kernel.py"
    script.write_text(rendered)
    spec = importlib.util.spec_from_file_location("rendered_kernel", script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == EXIT_CODE


def _watchdog(tmp_path: Path, deadline: float) -> tuple[Watchdog, list[int], threading.Event]:
    exits: list[int] = []
    fired = threading.Event()

    def fake_exit(code: int) -> None:  # stands in for os._exit, which would end pytest
        exits.append(code)
        fired.set()

    return Watchdog(deadline, tmp_path, {"schema": "s", "bundle_sha256": "b"}, "run.json", exit=fake_exit), exits, fired


def test_watchdog_stops_the_run_at_its_deadline_with_a_timed_out_record(tmp_path: Path) -> None:
    watchdog, exits, fired = _watchdog(tmp_path, time.time() + 0.3)
    watchdog.start()
    watchdog.epoch_done(1, {"val_f1": 0.5})
    assert fired.wait(5), "the watchdog did not fire"
    assert exits == [EXIT_CODE]
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "timed_out" and record["epochs_completed"] == 1
    assert record["outputs"] == {} and record["bundle_sha256"] == "b"
    assert watchdog.disarm() is False, "a fired watchdog reports it"


def test_a_run_that_finishes_in_time_is_never_cut_off(tmp_path: Path) -> None:
    watchdog, exits, fired = _watchdog(tmp_path, time.time() + 0.3)
    watchdog.start()
    assert watchdog.disarm() is True
    assert not fired.wait(0.6)
    assert exits == [] and not (tmp_path / "run.json").exists()


def test_a_passed_deadline_fires_at_start(tmp_path: Path) -> None:
    watchdog, exits, _ = _watchdog(tmp_path, time.time() - 1)
    watchdog.start()
    assert exits == [EXIT_CODE] and json.loads((tmp_path / "run.json").read_text())["epochs_completed"] == 0


KERNEL_SIDE = """
import sys, time
from pathlib import Path
from planet_sentinel.kaggle.entry import run

root, out, run_dir = map(Path, sys.argv[1:4])
manifest = {"train_config": {"epochs": 100000, "base": 4, "crop": 64, "batch_size": 4, "patience": 100000},
            "archive": {"sha256": "abc"}}
run(root, out, manifest, run_dir, deadline=time.time() + float(sys.argv[4]))
print("training returned")
"""


@pytest.mark.slow
def test_training_that_overruns_its_deadline_stops_itself(simulated_chips: Path, tmp_path: Path) -> None:
    out = tmp_path / "working"
    args = [sys.executable, "-c", KERNEL_SIDE, str(simulated_chips.parent), str(out), str(tmp_path / "run"), "4"]
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "SENTINEL_QUIET": "1"}, timeout=120)
    assert proc.returncode == EXIT_CODE, proc.stderr[-2000:]
    assert time.monotonic() - started < 60, "100000 epochs were cut off at the deadline"
    assert "training returned" not in proc.stdout and SAYING in proc.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "timed_out" and record["bundle_sha256"] == "abc"
    assert record["epochs_completed"] == len(record["history"]) < 100000
    assert not (out / "model.pt").exists(), "a timed-out run leaves no model to register"
