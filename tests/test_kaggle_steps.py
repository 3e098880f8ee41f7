"""The round trip's steps on their own (planet_sentinel.kaggle.roundtrip): fetch moves only
verified outputs into the run directory and leaves nothing behind otherwise; the outcome prints
the summary and tags the full round trip (tests/integration/test_kaggle_roundtrip.py) relies on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle.entry import MODEL_FILE, RUN_RECORD, RUN_SCHEMA, KaggleRunRecord
from planet_sentinel.kaggle.remote import KernelRun
from planet_sentinel.kaggle.roundtrip import KaggleOutcome, KaggleSession, KernelTemplate, fetch, rebuild_result
from planet_sentinel.kaggle.settings import KaggleConfig
from planet_sentinel.pipeline import Registration

RUN = KernelRun("alice/planet-sentinel-train", 2, 7, "https://kaggle.example/k")


class OutputsApi:
    """Stands in for ``KaggleApi.kernels_output`` (the only call fetch makes): writes ``files``
    into the download folder like the client does."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def kernels_output(self, kernel: str, path: str, force: bool = False, quiet: bool = True) -> None:
        for name, data in self.files.items():
            (Path(path) / name).write_bytes(data)


def _session(files: dict[str, bytes]) -> KaggleSession:
    return KaggleSession(OutputsApi(files), "alice", KaggleConfig(), sleep=lambda _s: None)


def _outputs(fingerprint: str = "f" * 16) -> dict[str, bytes]:
    model = b"model bytes"
    record = KaggleRunRecord(
        fingerprint=fingerprint,
        device="cuda",
        seconds=3.5,
        history=[{"epoch": 1, "val_f1": 0.5}],
        best={"val_f1": 0.5},
        outputs={MODEL_FILE: {"sha256": hashlib.sha256(model).hexdigest(), "size": len(model)}},
    )
    return {MODEL_FILE: model, RUN_RECORD: json.dumps(record.to_dict()).encode()}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({RUN_RECORD: json.dumps({"schema": RUN_SCHEMA, "outputs": {}, "fingerprint": "f" * 16}).encode()}, "lacks"),
        (_outputs(fingerprint="other"), "trained on data with fingerprint other"),
        ({**_outputs(), MODEL_FILE: b"tampered"}, "checksum of model.pt does not match"),
    ],
)
def test_rejected_outputs_leave_no_run_dir_and_no_staging_folder(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    run_dir = tmp_path / "runs" / "k"
    with pytest.raises(SentinelError, match=message):
        fetch(_session(files), RUN, run_dir, "f" * 16)
    assert list((tmp_path / "runs").iterdir()) == [], "neither the run dir nor a .kaggle-outputs-* folder is left"


def test_verified_outputs_become_the_run_dir_or_join_an_existing_one(tmp_path: Path) -> None:
    record = fetch(_session(_outputs()), RUN, tmp_path / "new", "f" * 16)
    assert (tmp_path / "new" / MODEL_FILE).read_bytes() == b"model bytes" and record.device == "cuda"
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    fetch(_session(_outputs()), RUN, existing, "f" * 16)
    assert sorted(p.name for p in existing.iterdir()) == sorted([MODEL_FILE, RUN_RECORD, "notes.txt"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_outcome_summary_and_tags(tmp_path: Path) -> None:
    record = KaggleRunRecord.from_dict(json.loads(_outputs()[RUN_RECORD]))
    result = rebuild_result(tmp_path, record)
    assert result.bundle_path == tmp_path / MODEL_FILE and result.preview_png is None and result.seconds == 3.5
    outcome = KaggleOutcome(result, RUN, "alice/planet-sentinel-chips", "abc", record, "NvidiaTeslaT4")
    summary = outcome.to_dict()
    assert summary["kernel"] == RUN.ref and summary["kernel_version"] == 2 and summary["bundle_sha256"] == "abc"
    assert summary["device"] == "cuda" and "model_version" not in summary
    outcome.registration = Registration("r1", "3", "models:/planet-sentinel/3")
    assert outcome.to_dict()["model_version"] == "3" and outcome.to_dict()["run_id"] == "r1"
    assert outcome.tags() == {
        "trained_on": "kaggle",
        "kaggle_kernel": RUN.ref,
        "kaggle_kernel_version": "2",
        "kaggle_kernel_url": RUN.url,
        "kaggle_dataset": "alice/planet-sentinel-chips",
        "kaggle_bundle_sha256": "abc",
        "kaggle_machine_shape": "NvidiaTeslaT4",
    }


def test_a_kernel_template_that_is_missing_or_not_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SentinelError, match="no kernel metadata template"):
        KernelTemplate.load(tmp_path)
    (tmp_path / "kernel-metadata.json").write_text("{oops")
    with pytest.raises(SentinelError, match="not JSON"):
        KernelTemplate.load(tmp_path)
