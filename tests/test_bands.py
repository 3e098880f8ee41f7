"""The one band-presence check (planet_sentinel.bands): which bands are missing, in the asked order,
and the caller's own message when any is."""

from __future__ import annotations

import pytest

from planet_sentinel.bands import band_positions, missing_bands, require_bands
from planet_sentinel.errors import SentinelError


def test_missing_bands_keep_the_wanted_order() -> None:
    assert missing_bands(["B12", "B02", "B04"], ("B04", "B08")) == ["B12", "B02"]
    assert missing_bands(("B04",), {"B04": 1}) == []


def test_require_bands_raises_the_callers_message() -> None:
    require_bands(["B04"], ("B04", "B08"), lambda missing: f"unused {missing}")
    with pytest.raises(SentinelError, match=r"^model needs \['B11'\]; have B04,B08$"):
        require_bands(["B04", "B11"], ("B04", "B08"), lambda missing: f"model needs {missing}; have B04,B08")


def test_band_positions_are_zero_based_in_wanted_order() -> None:
    assert band_positions(["B08", "B02"], ["B02", "B03", "B08"], str) == [2, 0]
    with pytest.raises(SentinelError, match=r"\['B12'\]"):
        band_positions(["B12"], ["B02"], lambda missing: f"lacks {missing}")
