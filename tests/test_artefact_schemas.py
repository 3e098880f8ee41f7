"""The published JSON Schemas (docs/schemas/) match the artefact models, and real artefacts
written by the stages validate against them, so users' tools can rely on them."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from planet_sentinel.artefacts import ArtefactError, registered
from planet_sentinel.chips import ChipConfig, ChipManifest, ChipStore, chip_scene
from planet_sentinel.evaluate import Counts, EvaluationRecord, EvaluationReport, MethodResult, SceneEvaluation
from planet_sentinel.kaggle.deadline import Watchdog
from planet_sentinel.kaggle.entry import RUN_RECORD, RUN_SCHEMA, KaggleRunRecord
from tests.conftest import FakeScene
from tools import artefacts as tool

SCHEMAS = Path(__file__).parents[1] / "docs" / "schemas"


def validate(path: Path, kind: str) -> dict[str, Any]:
    """``path`` checked against the published schema of ``kind``; returns its JSON."""
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    return data


def test_the_checked_in_schemas_match_the_models() -> None:
    result = CliRunner().invoke(tool.artefacts, ["check"])
    assert result.exit_code == 0, result.output
    assert f"{len(registered())} artefact schemas match" in result.output
    assert {"chip-manifest", "evaluation-report", "ingest-record", "kaggle-run-record"} <= set(registered())


def test_check_names_missing_changed_and_orphaned_schemas(tmp_path: Path) -> None:
    for name, text in tool.render_all().items():
        (tmp_path / name).write_text(text)
    assert tool.differences(tmp_path) == []
    (tmp_path / "chip-manifest.schema.json").unlink()
    (tmp_path / "evaluation-report.schema.json").write_text("{}\n")
    (tmp_path / "old-thing.schema.json").write_text("{}\n")
    problems = "\n".join(tool.differences(tmp_path))
    assert "chip-manifest.schema.json is missing" in problems
    assert "evaluation-report.schema.json differs from its model" in problems
    assert "old-thing.schema.json belongs to no model" in problems


def test_a_chip_manifest_validates_and_round_trips(fake_scene: FakeScene, tmp_path: Path) -> None:
    out = tmp_path / "chips"
    chip_scene(fake_scene.before, fake_scene.after, fake_scene.mask, out, ChipConfig(size=128, split_block=128))
    data = validate(out / "manifest.json", "chip-manifest")
    assert data["schema"] == "planet-sentinel/chips" and data["schema_version"] == 1
    assert "notes" not in data, "no notes key when there is nothing to say, as before versions"
    assert ChipStore(out).manifest == ChipManifest.load(out / "manifest.json")
    assert ChipManifest.load(out / "manifest.json").to_dict() == data
    (out / "manifest.json").write_text(json.dumps({**data, "schema": "planet-sentinel/baseline"}))
    with pytest.raises(ArtefactError, match="re-run `sentinel chip`"):
        ChipStore(out)


def _report() -> EvaluationReport:
    model = MethodResult("model", Counts(5, 1, 2, 90), 0.5, 0.8)
    ndvi = MethodResult("ndvi_tuned", Counts(3, 2, 4, 89), 0.2, float("nan"), note="given threshold")
    scene = SceneEvaluation("s0", {"model": model, "ndvi_tuned": ndvi}, {"total": 100, "labelled": 98})
    return EvaluationReport([scene], {"name": "m", "bands": ["B04", "B08"]}, {"split": "test"}, ["a note"])


def test_an_evaluation_report_validates_and_old_reports_still_load(tmp_path: Path) -> None:
    paths = _report().write(tmp_path / "eval")
    data = validate(paths["json"], "evaluation-report")
    model = data["overall"]["model"]
    assert model["tp"] == 5 and "note" not in model and data["overall"]["ndvi_tuned"]["ap"] is None
    assert data["scenes"][0]["methods"]["ndvi_tuned"]["note"] == "given threshold"
    record = EvaluationRecord.load(paths["json"])
    assert record.overall["model"].f1 == pytest.approx(10 / 13, abs=1e-6) and record.notes == ["a note"]
    old = {k: v for k, v in data.items() if k != "schema_version"}  # written before versions existed
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert EvaluationRecord.load(tmp_path / "old.json") == record


def test_kaggle_run_records_validate_complete_and_timed_out(tmp_path: Path) -> None:
    complete = KaggleRunRecord(
        started="2024-01-01T00:00:00Z",
        bundle_sha256="abc",
        seconds=12.5,
        device="cuda",
        amp=True,
        history=[{"epoch": 1, "val_f1": 0.5}],
        fingerprint="f" * 16,
        outputs={"model.pt": {"sha256": "0" * 64, "size": 10}},
    ).save(tmp_path / "complete" / RUN_RECORD)
    assert validate(complete, "kaggle-run-record")["status"] == "complete"

    fired = threading.Event()
    base = {"schema": RUN_SCHEMA, "schema_version": KaggleRunRecord.SCHEMA_VERSION, "bundle_sha256": "b"}
    watchdog = Watchdog(time.time() + 0.2, tmp_path / "late", base, RUN_RECORD, exit=lambda _code: fired.set())
    watchdog.start()
    watchdog.epoch_done(1, {"val_f1": 0.4})
    assert fired.wait(5), "the watchdog did not fire"
    data = validate(tmp_path / "late" / RUN_RECORD, "kaggle-run-record")
    assert data["status"] == "timed_out"
    record = KaggleRunRecord.load(tmp_path / "late" / RUN_RECORD)
    assert record.status == "timed_out" and record.epochs_completed == 1 and record.outputs == {}

    unversioned = {"schema": RUN_SCHEMA, "outputs": {}, "fingerprint": "x"}  # a run.json from before versions
    (tmp_path / "old.json").write_text(json.dumps(unversioned))
    assert KaggleRunRecord.load(tmp_path / "old.json").fingerprint == "x"
    (tmp_path / "other.json").write_text(json.dumps({**unversioned, "schema": "something/else"}))
    with pytest.raises(ArtefactError, match="not a valid kaggle-run-record"):
        KaggleRunRecord.load(tmp_path / "other.json")


def test_an_ingest_record_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planet_sentinel.sources.gee import IngestConfig, ingest
    from planet_sentinel.sources.gee.ingest import IngestRecord
    from tools.emulators.earthengine import EarthEngineEmulator

    with EarthEngineEmulator(tmp_path / "ee", size=256, seed=3) as emu:
        for key, value in emu.environ().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SENTINEL_QUIET", "1")
        aoi = tmp_path / "aoi.geojson"
        aoi.write_text(json.dumps(emu.aoi(20, 20, 200, 180)))
        cfg = IngestConfig(
            project="emulated-project",
            aoi=str(aoi),
            name="x",
            before=("2024-01-01", "2024-01-31"),
            after=("2024-11-01", "2024-11-30"),
            out_dir=str(tmp_path / "raw"),
            tile_px=256,
        )
        returned = ingest(cfg)
    data = validate(tmp_path / "raw" / "x_ingest.json", "ingest-record")
    assert data["windows"]["before"]["images"] > 0 and data["download"]["requests"] == 3
    assert "export" not in data and "next_steps" not in data, "route keys only on their route, as before"
    assert IngestRecord.load(tmp_path / "raw" / "x_ingest.json") == returned
    old = {k: v for k, v in data.items() if k != "schema_version"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert IngestRecord.load(tmp_path / "old.json").graph_hash == returned.graph_hash
