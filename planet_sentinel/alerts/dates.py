"""The period of a prediction: the dates of its before and after composites, from the scenes' tags.

Each source writes the date its own way (one reader here for all of them):

* ``sentinel simulate`` (``sources/synthetic/scene.py``): tag ``ACQUISITION_DATE`` (YYYY-MM-DD);
* ``sentinel import files`` (``sources/files.py``): tag ``acquisition_date``, when
  ``import_files(dates=...)`` was given them;
* ``sentinel ingest gee`` (``sources/gee/ingest.py``): tag ``WINDOW`` = ``start/end`` of the
  composite's inclusive date window. A composite's date is its window's **last** day (the newest
  image that could enter it), so consecutive ingests give periods that follow on without a gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import open_raster

#: Tags that hold one acquisition date, in the order they are looked for.
DATE_TAGS = ("ACQUISITION_DATE", "acquisition_date")
#: Tag of an Earth Engine composite: its date window "start/end".
WINDOW_TAG = "WINDOW"


@dataclass(frozen=True)
class Period:
    """The window in which the loss happened: after ``observed_after``, before ``observed_before``."""

    observed_after: str
    observed_before: str

    def __post_init__(self) -> None:
        if self.observed_before <= self.observed_after:
            raise SentinelError(
                f"the after composite's date {self.observed_before} is not later than the before "
                f"composite's date {self.observed_after}"
            )


def iso_date(value: str, what: str) -> str:
    """``value`` (a date, or a datetime whose date is taken) as YYYY-MM-DD; a SentinelError naming ``what``."""
    text = value.strip()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError as exc:
        raise SentinelError(f"{what}: {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def scene_date(path: str | Path) -> str | None:
    """The acquisition date a scene's tags record, or None when it records none."""
    with open_raster(path) as ds:
        tags = ds.tags()
    for tag in DATE_TAGS:
        if tags.get(tag):
            return iso_date(tags[tag], f"{path}: tag {tag}")
    window = tags.get(WINDOW_TAG)
    if window:
        return iso_date(window.rpartition("/")[2], f"{path}: tag {WINDOW_TAG}")
    return None


def prediction_period(
    before: str | Path, after: str | Path, observed_after: str | None = None, observed_before: str | None = None
) -> Period:
    """The period of a scene pair: each date given (flags) or read from the scene's tags.

    A scene whose date is neither given nor tagged is refused with a message naming the file,
    the tags looked for and the flag that gives the date instead.
    """
    dates = []
    for path, given, flag in (
        (before, observed_after, "--observed-after"),
        (after, observed_before, "--observed-before"),
    ):
        if given is not None:
            dates.append(iso_date(given, flag))
            continue
        if not Path(path).is_file():
            raise SentinelError(f"{path}: scene not found, so its date cannot be read; give it with {flag} YYYY-MM-DD")
        found = scene_date(path)
        if found is None:
            raise SentinelError(
                f"{path}: no acquisition date (tags {', '.join(DATE_TAGS)} or {WINDOW_TAG}); "
                f"give it with {flag} YYYY-MM-DD"
            )
        dates.append(found)
    return Period(dates[0], dates[1])
