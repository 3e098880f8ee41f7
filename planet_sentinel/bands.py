"""Sentinel-2 MSI band catalogue: names, wavelengths, native resolution and scaling.

Values follow the ESA Sentinel-2 User Handbook (S2A central wavelengths). Reflectance is stored
as uint16 scaled by ``REFLECTANCE_SCALE``; ``NODATA`` marks pixels with no observation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from planet_sentinel.errors import SentinelError

REFLECTANCE_SCALE = 10_000
NODATA = 0
MASK_UNKNOWN = 255
#: Mask value of a loss pixel (0 is no loss).
MASK_LOSS = 1
MASK_DTYPE = "uint8"
SCENE_DTYPE = "uint16"


@dataclass(frozen=True)
class Band:
    """One MSI band: canonical name, central wavelength (nm), native resolution (m)."""

    name: str
    center_nm: float
    resolution_m: int
    common_name: str


CATALOGUE: dict[str, Band] = {
    b.name: b
    for b in (
        Band("B01", 442.7, 60, "coastal"),
        Band("B02", 492.4, 10, "blue"),
        Band("B03", 559.8, 10, "green"),
        Band("B04", 664.6, 10, "red"),
        Band("B05", 704.1, 20, "rededge1"),
        Band("B06", 740.5, 20, "rededge2"),
        Band("B07", 782.8, 20, "rededge3"),
        Band("B08", 832.8, 10, "nir"),
        Band("B8A", 864.7, 20, "nir08"),
        Band("B09", 945.1, 60, "watervapour"),
        Band("B10", 1373.5, 60, "cirrus"),
        Band("B11", 1613.7, 20, "swir16"),
        Band("B12", 2202.4, 20, "swir22"),
    )
}

#: The default model bands: the four 10 m bands plus the two SWIR bands, which separate bare
#: soil from vegetation far better than visible bands alone.
DEFAULT_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")

_BAND_RE = re.compile(r"(?<![A-Za-z0-9])B(8A|0?\d{1,2})(?![0-9])", re.IGNORECASE)


def canonical(name: str) -> str:
    """Return the catalogue name for spellings like ``B2``, ``b02``, ``B8a`` or ``blue``."""
    text = name.strip()
    for band in CATALOGUE.values():
        if text.lower() == band.common_name:
            return band.name
    match = _BAND_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"unknown Sentinel-2 band {name!r}; expected one of {', '.join(CATALOGUE)}")
    token = match.group(1).upper()
    key = "B8A" if token == "8A" else f"B{int(token):02d}"
    if key not in CATALOGUE:
        raise ValueError(f"unknown Sentinel-2 band {name!r}; expected one of {', '.join(CATALOGUE)}")
    return key


def band_from_filename(filename: str) -> str | None:
    """Find the band in a file name as Copernicus and most archives spell it, or None.

    Matches ``T20LKP_20240101T140049_B04_10m.jp2``, ``S2A_..._B8A.tif``, ``Sentinel2_B4_...``.
    """
    matches = [m.group(0) for m in _BAND_RE.finditer(filename)]
    for token in reversed(matches):
        try:
            return canonical(token)
        except ValueError:
            continue
    return None


def validate_bands(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Canonicalise a band list and reject duplicates."""
    result = tuple(canonical(n) for n in names)
    if len(set(result)) != len(result):
        raise ValueError(f"duplicate bands in {list(names)}")
    if not result:
        raise ValueError("at least one band is required")
    return result


def missing_bands(wanted: Iterable[str], have: Collection[str]) -> list[str]:
    """The bands of ``wanted`` that ``have`` lacks, in ``wanted``'s order (names compared as given)."""
    return [b for b in wanted if b not in have]


def require_bands(wanted: Iterable[str], have: Collection[str], explain: Callable[[list[str]], str]) -> None:
    """The one band-presence check: a SentinelError with ``explain(missing)`` when ``have`` lacks any
    of ``wanted``. Each caller words its own message (what needs the bands, what to do instead)."""
    missing = missing_bands(wanted, have)
    if missing:
        raise SentinelError(explain(missing))


def band_positions(wanted: Sequence[str], have: Sequence[str], explain: Callable[[list[str]], str]) -> list[int]:
    """0-based positions of ``wanted`` in ``have``, after :func:`require_bands`."""
    require_bands(wanted, have, explain)
    return [have.index(b) for b in wanted]


@dataclass(frozen=True)
class BandOrder:
    """The band order a user states for scenes that do not name their bands, and how they state it.

    Most GIS exports write no band descriptions: GDAL's ``gdal_merge.py`` creates its output with
    ``Driver.Create`` and copies pixels only, never calling ``SetDescription`` (OSGeo/gdal,
    swig/python/gdal-utils/osgeo_utils/gdal_merge.py at 07fb502b). Then the user's word is the only
    source of the order. ``option`` and ``joiner`` say how this front end takes it (``--bands`` and a
    space on the CLI, ``bands`` and ``=`` on the service), so every message names exactly what to pass;
    ``example`` are the names a message suggests (a model's bands where one is known).
    """

    names: tuple[str, ...] | None = None
    option: str = "--bands"
    joiner: str = " "
    example: tuple[str, ...] = DEFAULT_BANDS

    @classmethod
    def parse(cls, text: str | None, option: str = "--bands", joiner: str = " ") -> BandOrder:
        """A stated order from comma-separated names (``B02,B03,B04``); ``None`` or blank: not stated.

        Raises ValueError naming the option for unknown or duplicate names.
        """
        if text is None or not text.strip():
            return cls(option=option, joiner=joiner)
        try:
            names = validate_bands([b for b in text.split(",") if b.strip()])
        except ValueError as exc:
            raise ValueError(f"{option}: {exc}") from exc
        return cls(names=names, option=option, joiner=joiner)

    def with_example(self, example: Sequence[str]) -> BandOrder:
        """The same order, suggesting ``example`` (e.g. the model's bands) in messages."""
        return replace(self, example=tuple(example))

    def suggestion(self) -> str:
        """What the user would type, e.g. ``--bands B02,B03,B04,B08,B11,B12``."""
        return f"{self.option}{self.joiner}{','.join(self.example)}"


def contradictions(descriptions: Sequence[str | None], stated: Sequence[str], option: str) -> list[str]:
    """Where band descriptions name another Sentinel-2 band than the stated order (which repeats
    for a stack of several dates); descriptions that are no band name (``Band 1``) contradict
    nothing."""
    found = []
    for i, desc in enumerate(descriptions, start=1):
        try:
            described = canonical(desc) if desc else None
        except ValueError:
            described = None
        name = stated[(i - 1) % len(stated)]
        if described is not None and described != name:
            found.append(f"band {i} is described as {described} but {option} says {name}")
    return found
