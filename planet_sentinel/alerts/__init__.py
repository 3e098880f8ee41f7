"""Deforestation alerts: a prediction's loss polygons as dated, confident, stable-id features.

* :mod:`~planet_sentinel.alerts.model`: :class:`AlertProperties` (the contract every writer and
  the region merge share), :class:`AlertFeature`, :class:`AlertCollection` (an artefact);
* :mod:`~planet_sentinel.alerts.ids`: :func:`alert_id`, the stable id (and :func:`feature_id` of a polygon);
* :mod:`~planet_sentinel.alerts.dates`: the period, from the scenes' tags;
* :mod:`~planet_sentinel.alerts.extract`: a prediction's polygons as alerts (max probability, confidence);
* :mod:`~planet_sentinel.alerts.writers`: GeoJSON, FlatGeobuf, CSV;
* :mod:`~planet_sentinel.alerts.store`: the dataset's alert store (new / confirmed / rerun);
* :mod:`~planet_sentinel.alerts.stage`: :func:`run_alerts`, the entry of `sentinel alerts`.

Importing this package imports only the model and the ids (no rasterio).
"""

from __future__ import annotations

from planet_sentinel.alerts.ids import alert_id
from planet_sentinel.alerts.model import AlertCollection, AlertFeature, AlertGeometry, AlertProperties

__all__ = ["AlertCollection", "AlertFeature", "AlertGeometry", "AlertProperties", "alert_id"]
