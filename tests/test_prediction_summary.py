"""The prediction summary as a typed, versioned artefact: today's files load, the schema is published."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planet_sentinel.artefacts import ArtefactError, registered
from planet_sentinel.errors import SentinelError
from planet_sentinel.predict import PredictionSummary, predict_scene
from tests.test_predict import OracleNet, land_pair, make_bundle, write_pair

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "prediction-summary.schema.json"


@pytest.fixture(scope="module")
def prediction(tmp_path_factory: pytest.TempPathFactory) -> tuple[PredictionSummary, Path]:
    tmp = tmp_path_factory.mktemp("summary")
    loss = np.zeros((96, 96), bool)
    loss[10:40, 20:60] = True
    paths = write_pair(tmp, *land_pair(96, 96, loss))
    bundle = make_bundle(OracleNet())
    bundle.source = {"name": "planet-sentinel", "version": "3", "alias": "champion"}
    result = predict_scene(bundle, *paths, tmp / "out", quicklook=False)
    return result.prediction, result.summary_json


def test_the_written_file_is_the_typed_summary(prediction: tuple[PredictionSummary, Path]) -> None:
    summary, path = prediction
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == PredictionSummary.SCHEMA_VERSION == 1
    loaded = PredictionSummary.load(path)
    assert loaded == summary
    assert (loaded.polygons, loaded.model.alias, loaded.grid.width) == (1, "champion", 96)
    assert loaded.loss_area_ha == pytest.approx(12.0)


def test_files_written_before_schema_version_still_load(
    prediction: tuple[PredictionSummary, Path], tmp_path: Path
) -> None:
    _, path = prediction
    old = json.loads(path.read_text())
    del old["schema_version"]  # exactly what predict wrote before the summary was versioned
    (tmp_path / "old_prediction.json").write_text(json.dumps(old, indent=2))
    loaded = PredictionSummary.load(tmp_path / "old_prediction.json")
    assert loaded.schema_version == 1 and loaded.to_dict() == {"schema_version": 1, **old}


def test_bad_files_say_what_to_do(prediction: tuple[PredictionSummary, Path], tmp_path: Path) -> None:
    _, path = prediction
    raw = json.loads(path.read_text())
    (tmp_path / "newer.json").write_text(json.dumps({**raw, "schema_version": 2}))
    with pytest.raises(ArtefactError, match="newer planet-sentinel"):
        PredictionSummary.load(tmp_path / "newer.json")
    del raw["grid"]
    (tmp_path / "broken.json").write_text(json.dumps(raw))
    with pytest.raises(ArtefactError, match=r"grid: Field required.*re-run `sentinel predict`"):
        PredictionSummary.load(tmp_path / "broken.json")


def test_published_schema_matches_the_model_and_validates_the_file(prediction: tuple[PredictionSummary, Path]) -> None:
    import jsonschema

    from tools.artefacts import render

    assert registered()["prediction-summary"] is PredictionSummary
    assert SCHEMA.read_text() == render(PredictionSummary)
    jsonschema.validate(json.loads(prediction[1].read_text()), json.loads(SCHEMA.read_text()))


def test_bad_settings_are_refused_before_any_output(tmp_path: Path) -> None:
    paths = write_pair(tmp_path, *land_pair(32, 32))
    bad_settings = (
        ({"threshold": 1.5}, "threshold"),
        ({"min_area_ha": -1.0}, "min_area_ha"),
        ({"device": "gpu"}, "device"),
    )
    for bad, named in bad_settings:  # each refusal names the setting, not some other failure
        with pytest.raises(SentinelError, match=named):
            predict_scene(make_bundle(OracleNet()), *paths, tmp_path / "out", **bad)
    assert not (tmp_path / "out").exists()  # refused before the output directory is made
