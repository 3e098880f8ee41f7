"""`sentinel train --on kaggle` through the Kaggle emulator: the real kaggle client uploads the
chips + wheel, the emulator runs the real kernel script on CPU, and the model comes back into
MLflow as `challenger`. Failures (kernel raises, overruns its deadline, never finishes, returns no
model) register nothing."""

# ruff: noqa: F811 - pytest fixtures imported from tests.kaggle_fixtures are redefined as arguments
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel.cli import cli
from tests.kaggle_fixtures import kaggle_wheel, start_emulator  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["--epochs", "1", "--base", "4", "--crop", "64", "--batch-size", "4"]
FAST = ["--poll-seconds", "0.2"]


def _invoke(args: list[str]) -> object:
    return CliRunner().invoke(cli, args)


def _custom_kernel(tmp_path: Path, script: str) -> Path:
    kernel = tmp_path / "kernel"
    kernel.mkdir()
    (kernel / "kernel-metadata.json").write_text((REPO / "kernels/siamese-unet/kernel-metadata.json").read_text())
    (kernel / "train_kernel.py").write_text(script)
    return kernel


def _nothing_registered() -> bool:
    from planet_sentinel.registry import alias_version

    return alias_version("challenger") is None


@pytest.mark.slow
def test_round_trip_registers_challenger(
    simulated_chips: Path,
    mlflow_home: Path,
    kaggle_wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = start_emulator(mlflow_home / "emu", monkeypatch, fail_uploads=1, fail_status=500)
    try:
        args = ["train", "--on", "kaggle", "--data-dir", str(simulated_chips), *TRAIN, "--run-dir", "runs/kaggle"]
        result = CliRunner().invoke(cli, [*args, "--json"], env={"SENTINEL_KAGGLE_POLL_SECONDS": "0.2"})
        # --wheel is not an option of `sentinel train`; the wheel is built here (about a second).
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout.strip().splitlines()[-1])
        puts = [code for method, path, code in emulator.calls if method == "PUT"]
        assert puts[0] == 500 and puts[-1] == 200, "the failed upload was retried"
        assert out["model_version"] == "1" and out["model_uri"] == "models:/planet-sentinel@challenger"
        assert out["kernel"] == "sentinel/planet-sentinel-train" and out["kernel_version"] == 1
        assert out["device"] == "cpu" and out["gpu"] == {"cuda": False}
        assert "  | epoch 1: loss" in result.output, "the kernel log was followed while polling"
        record = json.loads(Path("runs/kaggle/run.json").read_text())
        assert record["planet_sentinel"]["file"].startswith(str(mlflow_home / "emu")), "the kernel used the wheel"
        assert Path("runs/model_inference.pth").exists()

        from mlflow import MlflowClient

        from planet_sentinel.registry import load_model

        bundle = load_model("models:/planet-sentinel@challenger")
        assert bundle.fingerprint == record["fingerprint"] == out["fingerprint"]
        run = MlflowClient().get_run(out["run_id"])
        assert run.data.tags["trained_on"] == "kaggle"
        assert run.data.tags["kaggle_kernel"] == "sentinel/planet-sentinel-train"
        assert run.data.tags["kaggle_bundle_sha256"] == out["bundle_sha256"]
        assert "val_f1" in run.data.metrics and "best_val_f1" in run.data.metrics

        status = _invoke(["kaggle", "status", "sentinel/planet-sentinel-train/1", "--json"])
        assert json.loads(status.stdout.strip().splitlines()[-1])["status"] == "complete"
        logs = _invoke(["kaggle", "logs", "sentinel/planet-sentinel-train", "--tail", "50"])
        assert "epoch 1" in logs.stdout
    finally:
        emulator.stop()


@pytest.mark.slow
def test_kernel_that_raises_shows_log_tail_and_registers_nothing(
    simulated_chips: Path,
    mlflow_home: Path,
    kaggle_wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel = _custom_kernel(mlflow_home, "print('loading chips')\nraise RuntimeError('CUDA out of memory')\n")
    emulator = start_emulator(mlflow_home / "emu", monkeypatch)
    try:
        args = ["kaggle", "train", "--data-dir", str(simulated_chips), "--kernel-dir", str(kernel)]
        result = _invoke([*args, "--wheel", str(kaggle_wheel), *FAST])
        assert result.exit_code == 1
        assert "ended with ERROR" in result.output and "nothing registered" in result.output
        assert "loading chips" in result.output and "RuntimeError: CUDA out of memory" in result.output
        assert _nothing_registered()
        assert not Path("runs/model_inference.pth").exists()
    finally:
        emulator.stop()


@pytest.mark.slow
def test_kernel_that_never_finishes_is_ended_by_the_session_timeout(
    simulated_chips: Path,
    mlflow_home: Path,
    kaggle_wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kernel that cannot stop itself (here: one that only sleeps) is ended by the session
    timeout sent at push; no cancel with a wrong id is sent (there is no session id to send)."""
    emulator = start_emulator(mlflow_home / "emu", monkeypatch, hang_kernels=True)
    monkeypatch.setenv("SENTINEL_KAGGLE_STOP_GRACE_MINUTES", "0.05")
    try:
        args = ["kaggle", "train", "--data-dir", str(simulated_chips), "--wheel", str(kaggle_wheel), *FAST]
        started = time.monotonic()
        result = _invoke([*args, "--timeout-minutes", "0.03"])
        assert result.exit_code == 1
        assert time.monotonic() - started < 90  # the kernel would hang forever: the timeouts ended it
        assert "nothing registered" in result.output
        # We give up when Kaggle's backstop fires (deadline + grace): either message is right.
        assert "no kernel session id to cancel" in result.output or "session exceeded its timeout" in result.output
        assert emulator.cancels == [], "no CancelKernelSession with a kernel id"
        session = next(iter(emulator.sessions.values()))
        session.process.wait(timeout=30)
        assert session.timeout_s == 5, "timeout 1.8 s + grace 3 s, rounded up, sent as sessionTimeoutSeconds"
        assert session.failure == "session exceeded its timeout of 5 s"
        assert _nothing_registered()
    finally:
        emulator.stop()


@pytest.mark.slow
def test_kernel_that_overruns_its_deadline_stops_itself(
    simulated_chips: Path,
    mlflow_home: Path,
    kaggle_wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real kernel script, training far longer than the timeout allows, stops itself at the
    deadline written into it at push: before Kaggle's session timeout, without any cancel."""
    emulator = start_emulator(mlflow_home / "emu", monkeypatch)
    monkeypatch.setenv("SENTINEL_KAGGLE_STOP_GRACE_MINUTES", "0.5")
    monkeypatch.setenv("SENTINEL_TRAIN_PATIENCE", "100000")  # no early stop: it would train "forever"
    try:
        args = ["kaggle", "train", "--data-dir", str(simulated_chips), "--wheel", str(kaggle_wheel), *FAST]
        long = ["--epochs", "100000", "--base", "4", "--crop", "64", "--batch-size", "4"]
        started = time.monotonic()
        result = _invoke([*args, *long, "--timeout-minutes", "0.25"])
        elapsed = time.monotonic() - started
        assert result.exit_code == 1, result.output
        assert "the kernel stops itself at" in result.output, "the push said when"
        assert "ended with ERROR" in result.output and "reached its deadline" in result.output
        assert "the kernel stops itself" in result.output.split("--- last kernel log lines ---")[1]
        assert emulator.cancels == []
        session = next(iter(emulator.sessions.values()))
        assert session.status == "ERROR" and session.failure == "the script exited with code 124"
        assert elapsed < 15 + 30, "it stopped before the session timeout (deadline + grace)"
        if "passed before the kernel started" not in result.output:  # a very slow start skips training
            record = json.loads((session.working / "run.json").read_text())
            assert record["status"] == "timed_out" and record["outputs"] == {}
        assert _nothing_registered()
    finally:
        emulator.stop()


MISSING_MODEL = """
import json, os, pathlib
out = pathlib.Path(os.environ.get("SENTINEL_KAGGLE_WORKING", "/kaggle/working"))
(out / "run.json").write_text(json.dumps({"schema": "planet-sentinel/kaggle-run", "outputs": {}, "fingerprint": "x"}))
print("wrote run.json only")
"""


@pytest.mark.slow
def test_output_without_model_file_is_rejected(
    simulated_chips: Path,
    mlflow_home: Path,
    kaggle_wheel: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel = _custom_kernel(mlflow_home, MISSING_MODEL)
    emulator = start_emulator(mlflow_home / "emu", monkeypatch)
    try:
        args = ["kaggle", "train", "--data-dir", str(simulated_chips), "--kernel-dir", str(kernel)]
        result = _invoke([*args, "--wheel", str(kaggle_wheel), *FAST, "--run-dir", "runs/k"])
        assert result.exit_code == 1
        assert "lacks the model file model.pt" in result.output
        assert _nothing_registered()
        assert not Path("runs/k").exists(), "rejected outputs are not left as a run directory"
        assert not list(Path("runs").glob(".kaggle-outputs-*")), "nor as a staging folder"
    finally:
        emulator.stop()
