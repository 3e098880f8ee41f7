"""The Earth Engine datasets ingest reads, named in one place.

Update :data:`HANSEN_GFC` when UMD publishes a new Global Forest Change version (yearly, around
May): the id and :data:`HANSEN_LAST_YEAR` change together.
"""

from __future__ import annotations

#: Sentinel-2 Level-2A surface reflectance, harmonised so that scenes processed with baseline
#: 04.00 or later (the +1000 BOA offset) match older ones.
S2_COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
#: Google's Cloud Score+ for Sentinel-2; ``cs_cdf`` is the cumulative clear-sky score (1 = clear).
CLOUD_SCORE_PLUS = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
CLOUD_SCORE_BAND = "cs_cdf"
#: Scene Classification Layer classes kept by the SCL fallback: 4 vegetation, 5 not vegetated,
#: 6 water, 7 unclassified. Dropped: 0 no data, 1 saturated, 2 dark area, 3 cloud shadow,
#: 8/9 cloud medium/high probability, 10 thin cirrus, 11 snow.
SCL_CLEAR_CLASSES = (4, 5, 6, 7)
#: The newest Hansen/UMD Global Forest Change in the Earth Engine catalogue (data through 2025).
HANSEN_GFC = "UMD/hansen/global_forest_change_2025_v1_13"
HANSEN_FIRST_YEAR = 2001
HANSEN_LAST_YEAR = 2025
#: Metadata property marking which output an expression computes (read back by the emulator).
ROLE_PROPERTY = "planet_sentinel:role"


def ee_band(name: str) -> str:
    """Earth Engine's spelling of a canonical band name: ``B02`` -> ``B2``, ``B8A`` stays."""
    return name if name == "B8A" else f"B{int(name[1:])}"
