"""Kaggle round trip, the local pieces: settings, credentials, chips checks, packing, metadata,
the kernel script's bundle handling, and the CLI's bad-input messages."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel.artefacts import ArtefactError
from planet_sentinel.baseline import Baseline, compute_baseline, data_fingerprint
from planet_sentinel.cli import cli
from planet_sentinel.errors import SentinelError
from planet_sentinel.kaggle import packing
from planet_sentinel.kaggle.client import find_credentials
from planet_sentinel.kaggle.manifest import BundleManifest
from planet_sentinel.kaggle.remote import INTERNET_WARNING, parse_log, render_metadata
from planet_sentinel.kaggle.settings import KaggleConfig

REPO = Path(__file__).resolve().parents[1]
KERNEL_DIR = REPO / "kernels" / "siamese-unet"
TEMPLATE = json.loads((KERNEL_DIR / "kernel-metadata.json").read_text())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kernel_slug", "Planet Sentinel", "invalid characters"),
        ("dataset_slug", "chips_v1", "invalid characters"),
        ("dataset_slug", "chips/", "invalid characters"),
        ("dataset_slug", "chip", "6-50 characters"),
        ("owner", "me/you", "invalid characters"),
    ],
)
def test_bad_slugs_are_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KaggleConfig(**{field: value})


def test_template_is_a_valid_offline_gpu_script_kernel() -> None:
    assert TEMPLATE["language"] == "python" and TEMPLATE["kernel_type"] == "script"
    assert TEMPLATE["enable_internet"] is False and TEMPLATE["enable_gpu"] is True
    assert (KERNEL_DIR / TEMPLATE["code_file"]).is_file()


def test_render_metadata_fills_ids_and_warns_about_internet() -> None:
    meta, warnings = render_metadata(TEMPLATE, KaggleConfig(machine_shape="NvidiaL4"), "alice")
    assert meta["id"] == "alice/planet-sentinel-train"
    assert meta["dataset_sources"] == ["alice/planet-sentinel-chips"]
    assert meta["machine_shape"] == "NvidiaL4" and meta["enable_gpu"] is True
    assert warnings == []
    online, warnings = render_metadata({**TEMPLATE, "enable_internet": True}, KaggleConfig(), "alice")
    assert online["enable_internet"] is True and warnings == [INTERNET_WARNING]
    cpu, _ = render_metadata(TEMPLATE, KaggleConfig(enable_gpu=False), "alice")
    assert "machine_shape" not in cpu and cpu["enable_gpu"] is False


def test_credentials_from_env_file_or_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(SentinelError, match="KAGGLE_USERNAME and KAGGLE_KEY"):
        find_credentials()
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    with pytest.raises(SentinelError, match="KAGGLE_KEY is not set"):
        find_credentials()
    monkeypatch.delenv("KAGGLE_USERNAME")
    (tmp_path / "kaggle.json").write_text(json.dumps({"username": "bob"}))
    with pytest.raises(SentinelError, match="not a kaggle.json"):
        find_credentials()
    (tmp_path / "kaggle.json").write_text(json.dumps({"username": "bob", "key": "k"}))
    assert find_credentials().username == "bob"
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "k2")
    assert find_credentials().username == "alice"
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_x")
    assert find_credentials().source == "KAGGLE_API_TOKEN"


def test_cli_without_credentials_exits_1_with_help(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_ENDPOINT", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["kaggle", "train", "--data-dir", str(simulated_chips)])
    assert result.exit_code == 1
    assert "no Kaggle credentials" in result.output and "KAGGLE_KEY" in result.output


def test_cli_bad_input_exits_1(simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(cli, ["train", "--on", "kaggle", "--data-dir", str(empty)])
    assert result.exit_code == 1 and "no chips found" in result.output
    result = runner.invoke(cli, ["kaggle", "train", "--data-dir", str(simulated_chips), "--kernel-slug", "My Kernel"])
    assert result.exit_code == 1 and "invalid characters" in result.output
    result = runner.invoke(cli, ["train", "--on", "kaggle", "--resume", "--data-dir", str(simulated_chips)])
    assert result.exit_code == 2 and "--resume works only with --on local" in result.output


def test_chips_of_another_schema_are_refused(simulated_chips: Path, tmp_path: Path) -> None:
    other = tmp_path / "chips" / "old"
    shutil.copytree(next(simulated_chips.iterdir()), other)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 0}))
    with pytest.raises(SentinelError, match="re-run `sentinel chip`"):
        packing.check_chips(tmp_path / "chips")


def test_pack_records_checksums_and_refuses_oversized_bundles(simulated_chips: Path, tmp_path: Path) -> None:
    stores = packing.check_chips(simulated_chips)
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    with pytest.raises(SentinelError, match="over the limit of .* per Kaggle dataset"):
        packing.pack_dataset(stores, tmp_path / "big", {"epochs": 1}, wheel, max_bytes=1024)
    assert not (tmp_path / "big").exists()
    baseline = compute_baseline(simulated_chips)  # a real Baseline, built by the library from the chips
    bundle = packing.pack_dataset(stores, tmp_path / "ds", {"epochs": 1}, wheel, baseline=baseline)
    manifest = json.loads((tmp_path / "ds" / packing.BUNDLE_MANIFEST).read_text())
    assert manifest["archive"]["sha256"] == packing.sha256_file(bundle.archive) == bundle.sha256
    with zipfile.ZipFile(bundle.archive) as zf:
        names = set(zf.namelist())
        packed_baseline = Baseline.from_dict(json.loads(zf.read("baseline.json")))
    assert set(manifest["files"]) == names
    assert {"wheels/" + wheel.name, "train_config.json", "baseline.json"} <= names
    assert any(n.endswith("/manifest.json") for n in names) and any(n.endswith("/before.npy") for n in names)
    assert packed_baseline == baseline, "the baseline travels whole and loads as a Baseline in the kernel"
    assert BundleManifest.load(bundle.folder / packing.BUNDLE_MANIFEST) == bundle.manifest
    assert manifest["schema"] == packing.BUNDLE_SCHEMA and manifest["baseline"] == "baseline.json"


def test_bundle_manifests_of_today_load_and_others_are_refused(simulated_chips: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    bundle = packing.pack_dataset(packing.check_chips(simulated_chips), tmp_path / "ds", {"epochs": 1}, wheel)
    path = bundle.folder / packing.BUNDLE_MANIFEST
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1 and raw["baseline"] is None and raw["train_config"] == {"epochs": 1}
    assert (
        BundleManifest.load(path).fingerprint
        == raw["fingerprint"]
        == data_fingerprint(packing.check_chips(simulated_chips))
    )
    path.write_text(json.dumps({**raw, "schema": "planet-sentinel/kaggle-run"}))
    with pytest.raises(ArtefactError, match="not a valid kaggle-bundle"):
        BundleManifest.load(path)
    path.write_text(json.dumps({**raw, "schema_version": 2}))
    with pytest.raises(ArtefactError, match="written by a newer planet-sentinel"):
        BundleManifest.load(path)


def _kernel_script(monkeypatch: pytest.MonkeyPatch, input_dir: Path, scratch: Path):  # noqa: ANN202
    monkeypatch.setenv("SENTINEL_KAGGLE_INPUT", str(input_dir))
    monkeypatch.setenv("SENTINEL_KAGGLE_SCRATCH", str(scratch))
    spec = importlib.util.spec_from_file_location("train_kernel", KERNEL_DIR / "train_kernel.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("kaggle_unpacks", [False, True])
def test_kernel_script_finds_and_verifies_the_bundle(
    simulated_chips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kaggle_unpacks: bool
) -> None:
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    bundle = packing.pack_dataset(packing.check_chips(simulated_chips), tmp_path / "ds", {"epochs": 1}, wheel)
    mounted = tmp_path / "input" / "planet-sentinel-chips"
    mounted.mkdir(parents=True)
    shutil.copy(bundle.folder / packing.BUNDLE_MANIFEST, mounted)
    if kaggle_unpacks:
        with zipfile.ZipFile(bundle.archive) as zf:
            zf.extractall(mounted / "sentinel-bundle")
    else:
        shutil.copy(bundle.archive, mounted)
    script = _kernel_script(monkeypatch, tmp_path / "input", tmp_path / "scratch")
    path, manifest = script.locate_bundle()
    root = script.unpack(path, manifest)
    script.verify(root, manifest)
    assert (root / manifest["wheel"]).read_bytes() == b"wheel bytes"
    assert json.loads((root / "train_config.json").read_text()) == {"epochs": 1}
    (root / manifest["wheel"]).write_bytes(b"tampered")
    with pytest.raises(SystemExit, match="checksum mismatch"):
        script.verify(root, manifest)


def test_kernel_script_rejects_a_corrupt_archive(simulated_chips: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    wheel = tmp_path / "planet_sentinel-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    bundle = packing.pack_dataset(packing.check_chips(simulated_chips), tmp_path / "ds", {}, wheel)
    with open(bundle.archive, "ab") as handle:
        handle.write(b"x")
    script = _kernel_script(monkeypatch, bundle.folder, tmp_path / "scratch")
    path, manifest = script.locate_bundle()
    with pytest.raises(SystemExit, match="checksum differs"):
        script.unpack(path, manifest)


def test_parse_log_reads_kaggle_json_logs_and_plain_text() -> None:
    events = [{"stream_name": "stdout", "data": "a\n"}, {"stream_name": "stderr", "time": 0.2, "data": "b"}]
    assert parse_log(json.dumps(events)) == "a\nb"
    assert parse_log("plain\ntext") == "plain\ntext"
    assert parse_log("") == ""


KERNEL_SIDE = """
import importlib.abc, json, sys
from pathlib import Path

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"rasterio", "mlflow", "scipy", "shapely", "fiona", "kaggle", "kagglesdk", "click"}:
            raise ImportError("not needed in the kernel: " + name)

sys.meta_path.insert(0, Blocker())
from planet_sentinel.kaggle.entry import run

root, out, run_dir = map(Path, sys.argv[1:4])
manifest = {"train_config": {"epochs": 1, "base": 4, "crop": 64, "batch_size": 4}, "archive": {"sha256": "abc"}}
print(json.dumps(run(root, out, manifest, run_dir).to_dict()))
"""


@pytest.mark.slow
def test_kernel_side_trains_without_rasterio_mlflow_or_the_kaggle_client(simulated_chips: Path, tmp_path: Path) -> None:
    out = tmp_path / "working"
    args = [sys.executable, "-c", KERNEL_SIDE, str(simulated_chips.parent), str(out), str(tmp_path / "run")]
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "SENTINEL_QUIET": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["bundle_sha256"] == "abc" and record["device"] == "cpu" and record["amp"] is False
    assert set(record["outputs"]) == {"model.pt", "history.json", "val_predictions.png", "parity_windows.npz"}
    assert packing.sha256_file(out / "model.pt") == record["outputs"]["model.pt"]["sha256"]
    assert json.loads((out / "run.json").read_text())["fingerprint"] == record["fingerprint"]
