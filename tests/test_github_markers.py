"""github.markers: the hidden JSON line that lets the bot find its own issues again."""

from __future__ import annotations

from planet_sentinel.github.markers import HiddenMarker


def test_a_marker_round_trips_and_only_its_own_kind_is_read() -> None:
    region, drift = HiddenMarker("region-period"), HiddenMarker("drift-episode")
    info = {"region": "r", "period": "2024-11", "fingerprint": "f" * 16}
    body = f"Report\n\n{region.write(info)}\nedited by a person"
    assert region.read(body) == info
    assert drift.read(body) is None
    assert region.write({"b": 1, "a": 2}) == region.write({"a": 2, "b": 1}), "the same info, the same line"


def test_a_mangled_or_missing_marker_is_not_ours() -> None:
    marker = HiddenMarker("region-period")
    assert marker.read(None) is None and marker.read("") is None
    assert marker.read("<!-- planet-sentinel:region-period {not json} -->") is None
    assert marker.read("<!-- planet-sentinel:region-period-x {} -->") is None
    assert marker.read("<!-- planet-sentinel:region-period {} -->") == {}
