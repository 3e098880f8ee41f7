"""The alert store: a new period reports only new alerts, a following one confirms, a rerun changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planet_sentinel.alerts.stage import AlertsRequest, AlertsResult, run_alerts
from planet_sentinel.alerts.store import STORE_FILE, load_store
from planet_sentinel.artefacts import ArtefactError
from planet_sentinel.errors import SentinelError
from tests.alerts.fakes import Block, write_prediction

P1 = ("2024-01-31", "2024-03-31")
P2 = ("2024-03-31", "2024-05-31")
A, B = (5, 15, 5, 15, 95), (30, 40, 30, 50, 60)
A_AGAIN = (8, 18, 8, 18, 80)  # the clearing of A, traced a little differently: another centroid, another id
C = (50, 60, 5, 15, 70)


def _period(tmp: Path, label: str, blocks: list[Block], dates: tuple[str, str], store: Path) -> AlertsResult:
    fake = write_prediction(tmp / label, blocks, dates=dates)
    return run_alerts(AlertsRequest(summary=fake.summary, out_dir=tmp / label / "out", store=store, overwrite=True))


def test_new_then_confirmed_then_a_rerun_changes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "alerts"
    first = _period(tmp_path, "p1", [A, B], P1, store)
    assert len(first.alerts) == 2 and first.update is not None and first.update.confirmed == []
    a_id = next(a.id for a in first.alerts if a.properties.area_ha == 1.0)

    second = _period(tmp_path, "p2", [A_AGAIN, C], P2, store)
    assert second.update is not None
    assert [a.properties.observed_after for a in second.alerts] == ["2024-03-31"]  # only C is new
    assert len(second.alerts) == 1 and second.alerts[0].id != a_id
    assert second.update.confirmed == [a_id]
    stored = {a.id: a.properties.status for a in load_store(store).features}
    assert len(stored) == 3 and stored[a_id] == "confirmed"
    assert sorted(stored.values()) == ["confirmed", "new", "new"]
    reported = json.loads(second.paths["geojson"].read_text())["features"]
    assert [f["id"] for f in reported] == [second.alerts[0].id]

    before = (store / STORE_FILE).read_bytes()
    again = _period(tmp_path, "p2", [A_AGAIN, C], P2, store)
    assert (store / STORE_FILE).read_bytes() == before
    assert again.update is not None and again.update.rerun
    assert [a.id for a in again.alerts] == [a.id for a in second.alerts]
    assert again.paths["geojson"].read_bytes() == second.paths["geojson"].read_bytes()


def test_a_period_after_a_gap_does_not_confirm(tmp_path: Path) -> None:
    store = tmp_path / "alerts"
    _period(tmp_path, "p1", [A], P1, store)
    later = _period(tmp_path, "p3", [A_AGAIN], ("2024-06-30", "2024-08-31"), store)
    assert later.alerts == [] and later.update is not None and later.update.confirmed == []
    assert {a.properties.status for a in load_store(store).features} == {"new"}


def test_an_older_period_and_a_newer_store_are_refused_and_the_store_kept(tmp_path: Path) -> None:
    store = tmp_path / "alerts"
    _period(tmp_path, "p2", [A], P2, store)
    before = (store / STORE_FILE).read_bytes()
    with pytest.raises(SentinelError, match=r"already holds period 2024-03-31\.\.2024-05-31 of tile 'scene'"):
        _period(tmp_path, "p1", [B], P1, store)
    assert (store / STORE_FILE).read_bytes() == before
    raw = json.loads(before)
    (store / STORE_FILE).write_text(json.dumps({**raw, "schema_version": 99}))
    with pytest.raises(ArtefactError, match="schema_version 99 was written by a newer planet-sentinel"):
        _period(tmp_path, "p3", [C], ("2024-05-31", "2024-07-31"), store)
