"""Deforestation alerts: a prediction's loss polygons as dated, confident, stable-id features.

* :mod:`~planet_sentinel.alerts.model`: :class:`AlertProperties` (the contract every writer and
  the region merge share), :class:`AlertFeature`, :class:`AlertCollection` (an artefact);
* :mod:`~planet_sentinel.alerts.ids`: :func:`alert_id`, the stable id.
"""

from __future__ import annotations

from planet_sentinel.alerts.ids import alert_id
from planet_sentinel.alerts.model import AlertCollection, AlertFeature, AlertGeometry, AlertProperties

__all__ = ["AlertCollection", "AlertFeature", "AlertGeometry", "AlertProperties", "alert_id"]
