"""The Kaggle emulator against the real kaggle client (through planet_sentinel.kaggle.remote):
auth, dataset create/version, the client's own resume after a 503, kernel runs and outputs,
cancels that need a real session id, and Kaggle's 403 answers for what a user cannot see."""

# ruff: noqa: F811 - pytest fixtures imported from tests.kaggle_fixtures are redefined as arguments
from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle import packing, remote
from planet_sentinel.kaggle.client import connect, username
from planet_sentinel.kaggle.settings import KaggleConfig
from tests.kaggle_fixtures import USER, kaggle_emulator, start_emulator  # noqa: F401 - fixtures
from tools.emulators.kaggle import KaggleEmulator

CONFIG = KaggleConfig(poll_seconds=0.1, max_poll_seconds=0.5, timeout_minutes=1)
SCRIPT = """
import os, pathlib
out = pathlib.Path(os.environ["SENTINEL_KAGGLE_WORKING"])
inputs = sorted(p.name for p in pathlib.Path(os.environ["SENTINEL_KAGGLE_INPUT"]).rglob("*"))
(out / "seen.txt").write_text("\\n".join(inputs))
print("listed", len(inputs), "input files")
"""


def _bundle(tmp_path: Path, chips: Path) -> packing.DatasetBundle:
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    return packing.pack_dataset(packing.check_chips(chips), tmp_path / "ds", {"epochs": 1}, wheel)


def _push_script(api: object, tmp_path: Path, name: str = "k", script: str = SCRIPT) -> remote.KernelRun:
    kernel_dir = tmp_path / name
    kernel_dir.mkdir()
    (kernel_dir / "train_kernel.py").write_text(script)
    template = json.loads((Path(__file__).parents[1] / "kernels/siamese-unet/kernel-metadata.json").read_text())
    meta, _ = remote.render_metadata(template, CONFIG, USER)
    return remote.push_kernel(api, kernel_dir, meta, tmp_path / f"{name}-work", 60)


def test_wrong_key_is_refused(kaggle_emulator: KaggleEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_KEY", "wrong")
    with pytest.raises(SentinelError, match="HTTP 401"):
        remote.dataset_exists(connect(), f"{USER}/planet-sentinel-chips")


def test_api_token_is_introspected_for_the_username(
    kaggle_emulator: KaggleEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "emulator-token")
    api = connect()
    assert username(api) == USER
    assert remote.dataset_exists(api, f"{USER}/planet-sentinel-chips") is False
    assert any("IntrospectToken" in path for _, path, _ in kaggle_emulator.calls)


def test_dataset_create_then_version_and_client_resumes_after_503(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = start_emulator(tmp_path / "emu", monkeypatch, fail_uploads=1, fail_status=503)
    try:
        api = connect()
        bundle = _bundle(tmp_path, simulated_chips)
        ref = remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None)
        puts = [(path, code) for method, path, code in emulator.calls if method == "PUT"]
        first = [code for path, code in puts if path == puts[0][0]]
        assert first == [503, 308, 200], "the client probed the failed upload and resent it"
        assert len(puts) == 4, "archive and manifest uploaded"
        remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None)
        versions = emulator.datasets[ref]
        assert [v.name for v in versions] == ["v1", "v2"]
        unpacked = versions[-1] / "sentinel-bundle"
        assert (unpacked / "train_config.json").is_file(), "zip archives are unpacked like on Kaggle"
    finally:
        emulator.stop()


def test_kernel_runs_against_the_mounted_dataset(
    simulated_chips: Path,
    tmp_path: Path,
    kaggle_emulator: KaggleEmulator,
) -> None:
    api = connect()
    remote.push_dataset(api, _bundle(tmp_path, simulated_chips), USER, CONFIG, lambda _: None)
    run = _push_script(api, tmp_path)
    assert run.ref == f"{USER}/planet-sentinel-train" and run.version == 1
    status, failure = remote.wait_for_kernel(api, run, CONFIG, time.sleep)
    assert (status, failure) == ("complete", "")
    out = tmp_path / "out"
    with pytest.raises(SentinelError, match="no run.json"):
        remote.fetch_outputs(api, run, out, "fingerprint")
    assert packing.BUNDLE_MANIFEST in (out / "seen.txt").read_text()
    assert "listed" in remote.log_tail(api, run, 5)
    second = _push_script(api, tmp_path, "k2")
    assert second.version == 2 and second.kernel_id == run.kernel_id


def test_kernel_with_unknown_dataset_is_refused(tmp_path: Path, kaggle_emulator: KaggleEmulator) -> None:
    with pytest.raises(SentinelError, match="invalid dataset sources"):
        _push_script(connect(), tmp_path)


def test_an_emulator_stopped_before_it_started_closes_at_once(tmp_path: Path) -> None:
    """A fixture that fails between construction and start() must not hang on stop()."""
    import socket
    import threading

    emulator = KaggleEmulator(tmp_path / "emu")
    port = int(emulator.url.rsplit(":", 1)[1])
    stopper = threading.Thread(target=emulator.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive(), "stop() of a never-started emulator blocked"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the listening socket was not closed"


def _settled(api: object, run: remote.KernelRun) -> str:
    """The status once it is terminal (the emulator's watcher thread records it a moment after the process ends)."""
    for _ in range(100):
        status = remote.kernel_status(api, run.versioned)[0]
        if status in remote.TERMINAL:
            return status
        time.sleep(0.05)
    return status


def test_cancel_needs_a_session_id_not_the_kernel_id(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CancelKernelSession takes a kernel *session* id; SaveKernel answers a kernel id. Sending
    the kernel id (what cancel() used to do) must not stop anything, as on Kaggle."""
    from kagglesdk.kernels.types.kernels_api_service import ApiCancelKernelSessionRequest

    emulator = start_emulator(tmp_path / "emu", monkeypatch, hang_kernels=True)
    try:
        api = connect()
        remote.push_dataset(api, _bundle(tmp_path, simulated_chips), USER, CONFIG, lambda _: None)
        run = _push_script(api, tmp_path)
        session = emulator.kernels[run.ref].sessions[-1]
        assert run.kernel_id != session.id, "ids come from one counter: a kernel id is never a session id"

        old_style = ApiCancelKernelSessionRequest()
        old_style.kernel_session_id = run.kernel_id
        with pytest.raises(requests.HTTPError) as refused, api.build_kaggle_client() as kaggle:
            kaggle.kernels.kernels_api_client.cancel_kernel_session(old_style)
        assert refused.value.response.status_code == 404
        assert session.process.poll() is None and session.status == "RUNNING", "the kernel id stopped nothing"

        outcome = remote.cancel(api, run)  # no session id known: nothing is sent
        assert "no kernel session id" in outcome and "session timeout" in outcome
        assert emulator.cancels == [run.kernel_id]

        outcome = remote.cancel(api, dataclasses.replace(run, session_id=session.id))
        assert outcome == f"cancel of session {session.id} sent"
        session.process.wait(timeout=10)
        assert _settled(api, run) == "cancel_acknowledged"
    finally:
        emulator.stop()


def test_forbidden_answers_do_not_break_dataset_upload(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Kaggle answers 403 for a dataset we cannot see yet, and a new dataset answers 403 to its
    first status polls while its first version is processed."""
    emulator = start_emulator(tmp_path / "emu", monkeypatch, forbid_hidden=True, processing_polls=2)
    try:
        api = connect()
        ref = f"{USER}/planet-sentinel-chips"
        assert remote.dataset_exists(api, ref) is False and remote.dataset_lookup(api, ref) == 403
        bundle = _bundle(tmp_path, simulated_chips)
        with caplog.at_level(logging.INFO, logger="planet_sentinel.kaggle"):
            assert remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None) == ref
        said = [r.getMessage() for r in caplog.records if r.name == "planet_sentinel.kaggle.remote"]
        polls = [code for path, code, _ in emulator.replies if path.endswith("/GetDatasetStatus")]
        # absent (ours, ours again, push_dataset's, the client's own in dataset_create_new), processing x2, ready
        assert polls == [403] * 6 + [200]
        assert emulator.processing[ref] == 0, "both processing polls were answered 403 and waited through"
        assert said[-1] == f"dataset {ref} is ready" and len(emulator.datasets[ref]) == 1
    finally:
        emulator.stop()


def test_a_rerun_while_the_first_version_is_processed_says_why(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = start_emulator(tmp_path / "emu", monkeypatch, processing_polls=100)
    try:
        api = connect()
        bundle = _bundle(tmp_path, simulated_chips)
        fast = CONFIG.model_copy(update={"dataset_ready_minutes": 0.002})
        with pytest.raises(SentinelError, match="still 'not visible yet \\(HTTP 403\\)'"):
            remote.push_dataset(api, bundle, USER, fast, lambda _: None)
        with pytest.raises(SentinelError, match="first version it is still processing"):
            remote.push_dataset(api, bundle, USER, CONFIG, lambda _: None)
    finally:
        emulator.stop()


def test_kernel_calls_answered_403_become_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client raises ValueError on 401/403 of the kernels calls; we say what it means."""
    emulator = start_emulator(tmp_path / "emu", monkeypatch, forbid_hidden=True)
    try:
        runner = CliRunner()
        for command in (["status"], ["logs"]):
            result = runner.invoke(cli, ["kaggle", *command, "someone/private-kernel"])
            assert isinstance(result.exception, SystemExit), f"not a traceback: {result.exception!r}"
            assert result.exit_code == 1 and "Kaggle refused" in result.output, result.output
        api = connect()
        with pytest.raises(SentinelError, match="wrong kernel slug, a private kernel of another account"):
            remote.kernel_status(api, "someone/private-kernel")
        with pytest.raises(SentinelError, match="HTTP 401/403"):
            remote.kernel_log(api, "someone/private-kernel/2")
        result = runner.invoke(cli, ["kaggle", "status", "not a kernel"])
        assert result.exit_code == 1 and "expected owner/slug" in result.output
    finally:
        emulator.stop()
