"""The alert store of a dataset (``data/<dataset>/alerts/alerts.geojson``): every alert, period after period.

Rules, after GLAD's alerts, whose confidence "is built through repeated loss observations in the
consequent images" (UMD GLAD, https://glad.umd.edu/dataset/glad-forest-alerts) and which "become
confirmed when more than one [...] image flags the pixel"
(https://environmentcounts.org/news/automated-deforestation-alerts-using-landsat-satellite-imagery/):

* **Same place** is polygon overlap, not id equality (ids include the period's dates, so the same
  clearing seen in two periods has two ids): a new polygon is the place of a stored alert when
  their intersection has a positive area (touching edges do not count).
* **New**: a polygon of the period that overlaps no stored alert is stored with status ``new``
  and is what the period reports. A polygon over a stored alert is not new, whatever its period.
* **Confirmed**: a ``new`` alert is raised to ``confirmed`` when a polygon of a *following*
  period overlaps it: one that ends later and starts no later than the alert's period ends (no
  gap between them), so chained composites (P1 = d0..d1, P2 = d1..d2) and overlapping yearly
  windows (Jan..Jan, Feb..Feb) both confirm, and a sighting after a gap does not.
* **Reruns**: a period the store holds (same tile and dates) changes nothing; the store is not
  written, and the period reports the alerts it reported the first time.
* **Order**: per tile, periods are added in time order; an older period after a newer one is
  refused (its loss might already be stored under the newer period).

Writes are atomic (temporary file, then rename) and only add: no alert is ever removed, so a
failure never loses the store. A store written by a newer planet-sentinel is refused (its
``schema_version``), with the message of :class:`~planet_sentinel.artefacts.Artefact`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.alerts.dates import Period
from planet_sentinel.alerts.model import AlertFeature
from planet_sentinel.artefacts import Artefact
from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

#: The store's file in its folder.
STORE_FILE = "alerts.geojson"


class StoredPeriod(BaseModel):
    """One period added to the store: which tile, which dates, what it reported."""

    model_config = ConfigDict(extra="forbid")

    tile_id: str
    observed_after: str
    observed_before: str
    new: list[str] = Field(default_factory=list, description="Ids of the alerts this period reported as new.")
    confirmed: list[str] = Field(default_factory=list, description="Ids of earlier alerts it confirmed.")


class AlertStore(Artefact):
    """Every alert of a dataset and the periods that made them (a GeoJSON FeatureCollection)."""

    KIND: ClassVar[str] = "alert-store"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel alerts --store"

    type: Literal["FeatureCollection"] = "FeatureCollection"
    name: str = "alerts"
    periods: list[StoredPeriod] = Field(default_factory=list)
    features: list[AlertFeature] = Field(default_factory=list)


@dataclass
class StoreUpdate:
    """What adding one period did."""

    new: list[AlertFeature]
    confirmed: list[str]
    rerun: bool = False
    #: Polygons of the period over an alert already stored (not new, nothing to confirm).
    seen_again: list[str] = field(default_factory=list)


def store_path(folder: str | Path) -> Path:
    return Path(folder) / STORE_FILE


def load_store(folder: str | Path) -> AlertStore:
    """The store in ``folder``; an empty one when it has none yet."""
    path = store_path(folder)
    return AlertStore.load(path) if path.exists() else AlertStore(schema_version=AlertStore.SCHEMA_VERSION)


def _follows(alert: AlertFeature, period: Period) -> bool:
    """Whether ``period`` follows the alert's period without a gap (see the module docstring)."""
    p = alert.properties
    return p.observed_before < period.observed_before and period.observed_after <= p.observed_before


def _overlapping(shapes: list[BaseGeometry], geometry: BaseGeometry) -> list[int]:
    """Indexes of ``shapes`` whose intersection with ``geometry`` has a positive area."""
    return [i for i, other in enumerate(shapes) if other.intersects(geometry) and other.intersection(geometry).area > 0]


def add_period(store: AlertStore, tile_id: str, period: Period, alerts: list[AlertFeature]) -> StoreUpdate:
    """Add one period's alerts to ``store`` in place, by the rules of the module docstring."""
    from shapely.geometry import shape
    from shapely.strtree import STRtree

    for done in store.periods:
        if (done.tile_id, done.observed_after, done.observed_before) == (
            tile_id,
            period.observed_after,
            period.observed_before,
        ):
            reported = set(done.new)
            return StoreUpdate([a for a in store.features if a.id in reported], list(done.confirmed), rerun=True)
    _refuse_older(store, tile_id, period)
    stored = [shape(a.geometry.model_dump()) for a in store.features]
    tree = STRtree(stored)
    new: list[AlertFeature] = []
    confirmed: list[str] = []
    seen: list[str] = []
    for alert in alerts:
        geometry = shape(alert.geometry.model_dump())
        candidates = [int(i) for i in tree.query(geometry)]
        hits = [candidates[j] for j in _overlapping([stored[i] for i in candidates], geometry)]
        if not hits:
            new.append(alert)
            continue
        seen.append(alert.id)
        for i in sorted(hits):
            earlier = store.features[i]
            if earlier.properties.status == "new" and _follows(earlier, period):
                earlier.properties.status = "confirmed"
                confirmed.append(earlier.id)
    store.features.extend(new)
    store.features.sort(key=lambda a: (a.properties.observed_before, a.id))
    entry = StoredPeriod(
        tile_id=tile_id,
        observed_after=period.observed_after,
        observed_before=period.observed_before,
        new=sorted(a.id for a in new),
        confirmed=sorted(confirmed),
    )
    store.periods.append(entry)
    store.periods.sort(key=lambda p: (p.observed_before, p.observed_after, p.tile_id))
    return StoreUpdate(new, sorted(confirmed), seen_again=seen)


def _refuse_older(store: AlertStore, tile_id: str, period: Period) -> None:
    """Refuse a period of ``tile_id`` that does not end after every period the store holds for it."""
    for done in store.periods:
        if done.tile_id == tile_id and done.observed_before >= period.observed_before:
            raise SentinelError(
                f"the alert store already holds period {done.observed_after}..{done.observed_before} of tile "
                f"{tile_id!r}; periods are added in time order, so {period.observed_after}.."
                f"{period.observed_before} must end after it (or be a rerun of a stored period)"
            )


def save_store(store: AlertStore, folder: str | Path) -> Path:
    """Write the store atomically (the previous file stays whole until the rename)."""
    return store.save(store_path(folder))
