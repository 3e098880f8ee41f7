"""Whole-scene tiled inference: probabilities, a loss mask, loss polygons and a summary.

One core serves every caller (the CLI, the service, evaluation, the drift monitor), one module per job:

* :mod:`~planet_sentinel.predict.batch`: :func:`predict_batch` runs the model on a batch of
  equally sized before/after windows and marks unknown pixels (nodata on either date, cloud or
  shadow on either date) as NaN;
* :mod:`~planet_sentinel.predict.tiling`: :func:`plan_tiles` cuts a scene into model windows with
  overlap and edge-crop blending (no seams), :func:`iter_tiles` streams them through the batch core;
* :mod:`~planet_sentinel.predict.arrays` (:func:`predict_arrays`, in memory) and
  :mod:`~planet_sentinel.predict.scene` (:func:`predict_scene`, streamed from COGs to COGs with
  bounded memory) only differ in where windows come from and go to;
* :mod:`~planet_sentinel.predict.vectorise`: loss polygons as GeoJSON;
* :mod:`~planet_sentinel.predict.summary` and :mod:`~planet_sentinel.predict.model_info`: the
  typed prediction summary (an :class:`~planet_sentinel.artefacts.Artefact`) and the model it names;
* :mod:`~planet_sentinel.predict.config`: :class:`PredictConfig`, the ``predict`` section of params.yaml.

The device is resolved by :func:`planet_sentinel.device.resolve_device` (re-exported here).
Importing this package imports neither torch nor click.
"""

from __future__ import annotations

from planet_sentinel.device import resolve_device
from planet_sentinel.predict.arrays import predict_arrays
from planet_sentinel.predict.batch import input_bands, predict_batch, select_bands, unknown_pixels
from planet_sentinel.predict.config import SECTION, PredictConfig, PredictOverrides
from planet_sentinel.predict.model_info import ModelInfo, model_info
from planet_sentinel.predict.scene import (
    PROBABILITY_NODATA,
    PredictionResult,
    output_paths,
    predict_scene,
    scene_name,
)
from planet_sentinel.predict.summary import GridInfo, PredictionSummary
from planet_sentinel.predict.tiling import Tile, TileResult, iter_tiles, plan_tiles, resolve_window
from planet_sentinel.predict.vectorise import Feature, feature_collection, loss_polygons

__all__ = [
    "PROBABILITY_NODATA",
    "SECTION",
    "Feature",
    "GridInfo",
    "ModelInfo",
    "PredictConfig",
    "PredictOverrides",
    "PredictionResult",
    "PredictionSummary",
    "Tile",
    "TileResult",
    "feature_collection",
    "input_bands",
    "iter_tiles",
    "loss_polygons",
    "model_info",
    "output_paths",
    "plan_tiles",
    "predict_arrays",
    "predict_batch",
    "predict_scene",
    "resolve_device",
    "resolve_window",
    "scene_name",
    "select_bands",
    "unknown_pixels",
]
