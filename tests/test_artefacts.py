"""The artefact base: versions, upgraders, refusals that say what to do, atomic saves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from planet_sentinel.artefacts import Artefact, ArtefactError, registered


def _rename_count(raw: dict[str, Any]) -> dict[str, Any]:
    return {"n": raw.pop("count", 0), **raw}


class Record(Artefact):
    """A test artefact at version 2: version 0 called n 'count', version 1 had no tag."""

    KIND: ClassVar[str] = "record"
    SCHEMA_VERSION: ClassVar[int] = 2
    PRODUCED_BY: ClassVar[str] = "sentinel record"
    UPGRADERS: ClassVar[dict[int, Any]] = {0: _rename_count, 1: lambda raw: {**raw, "tag": "upgraded"}}

    n: int
    tag: str


def test_new_artefacts_carry_the_current_version_and_round_trip(tmp_path: Path) -> None:
    record = Record(n=3, tag="a")
    assert record.to_dict() == {"schema_version": 2, "n": 3, "tag": "a"}
    assert Record.load(record.save(tmp_path / "r.json")) == record
    assert not list(tmp_path.glob(".*tmp")), "no temporary file left behind"


def test_files_without_a_version_are_version_0_and_are_upgraded_step_by_step(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps({"count": 5}))
    assert Record.load(tmp_path / "old.json") == Record(n=5, tag="upgraded")
    assert Record.model_validate({"schema_version": 1, "n": 1}) == Record(n=1, tag="upgraded")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no record here; run `sentinel record` first"),
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"schema_version": 9, "n": 1, "tag": "t"}), "written by a newer planet-sentinel"),
        (json.dumps({"schema_version": 2, "n": "x", "tag": "t"}), "n: Input should be a valid integer"),
        (json.dumps({"schema_version": 2, "n": 1, "tag": "t", "typo": 1}), "typo: Extra inputs are not permitted"),
        (json.dumps({"schema_version": "2", "n": 1, "tag": "t"}), "is not a version number"),
    ],
)
def test_bad_files_are_refused_with_what_to_do(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ArtefactError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        Record.load(path)
    assert str(path) in str(info.value)


def test_a_failed_save_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Record(n=1, tag="good").save(tmp_path / "r.json")

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        Record(n=2, tag="new").save(path)
    monkeypatch.undo()
    assert Record.load(path).tag == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_every_registered_model_is_an_artefact_with_a_unique_kind() -> None:
    for kind, model in registered().items():
        assert issubclass(model, Artefact) and model.KIND == kind
        assert model.json_schema()["properties"]["schema_version"]["type"] == "integer"
