"""What a prediction request asks for: the answer's format (``format`` or ``Accept``) and the band order."""

from __future__ import annotations

from planet_sentinel.bands import BandOrder
from planet_sentinel.serving.inference import FORMATS
from planet_sentinel.serving.uploads import InputError

ACCEPT_FORMATS = {
    "application/json": "json",
    "application/*": "json",
    "*/*": "json",
    "application/geo+json": "geojson",
    "image/tiff": "mask",
    "image/geotiff": "mask",
    "image/*": "mask",
}


def band_order(query: str | None, field: str | None) -> BandOrder:
    """The band order a client stated with ``bands`` (query or form field; both must agree), 422 if invalid."""
    if query and field and query != field:
        raise InputError(422, "bad_bands", f"bands is {query!r} in the query but {field!r} in the form; send one")
    try:
        return BandOrder.parse(query or field, option="bands", joiner="=")
    except ValueError as exc:
        raise InputError(422, "bad_bands", str(exc)) from exc


def choose_format(explicit: str | None, accept: str | None) -> str:
    """``format`` if given, else the first media type of ``Accept`` we can produce, else JSON."""
    if explicit:
        if explicit not in FORMATS:
            raise InputError(422, "bad_format", f"format '{explicit}' is not one of {list(FORMATS)}")
        return explicit
    if not accept or not accept.strip():
        return "json"
    for item in accept.split(","):
        media, *params = [p.strip().lower() for p in item.split(";")]
        if "q=0" in params:
            continue
        if media in ACCEPT_FORMATS:
            fmt = ACCEPT_FORMATS[media]
            return "probability" if fmt == "mask" and "profile=probability" in params else fmt
    raise InputError(
        406,
        "not_acceptable",
        f"cannot answer in {accept!r}; try application/json, application/geo+json or image/tiff",
    )
