"""`python -m tools bench oscd`: the change model on real Sentinel-2 pairs, leave-cities-out.

Trains the Siamese U-Net (``planet_sentinel.train.train``, unchanged) on the OSCD development
cities (../shared/data/oscd-dev by default, ``--data DIR`` otherwise) and scores it on cities it
never saw:

* **Outer folds hold out whole cities.** Cities are dealt into ``folds`` groups in snake order of
  their changed-pixel share (so every group mixes high- and low-change cities); fold *i* holds out
  group *i*.
* **Checkpoint and threshold are chosen on several other cities pooled.** Within fold *i* the
  validation set is the group of fold *i + 1* (e.g. 2 of the 6 remaining cities), never the
  held-out ones; the rest is trained on. ``train`` picks the best epoch and its decision
  threshold with ``evaluate.threshold_by_f1`` over the pooled validation pixels, so the threshold
  is not fitted to one city's brightness or change rate.
* Splits are made by chipping each city twice, once wholly ``train`` (ChipConfig
  ``split_ratios=(1, 0, 0)``, 128 px chips, 64 px overlap) and once wholly ``val`` (``(0, 1, 0)``,
  no overlap, so each validation pixel counts once in the threshold choice), then building a
  chip root per fold from real directories holding symbolic links to the chip files
  (``find_chip_dirs`` uses ``Path.rglob``, which does not descend into linked directories but
  does see linked files). Each root is checked to hold exactly the fold's cities.
* Normalisation: ``compute_baseline`` over the fold's training chips.
* Held-out cities are scored with ``evaluate.evaluate_scene`` on the imported whole-city scenes
  (the tiled predictor of ``sentinel predict``), beside the NDVI-difference and change-vector
  baselines of the same evaluation (the tuned NDVI threshold is tuned on the fold's training
  chips). Per city: F1, precision, recall and AP of the change class; overall: micro-averaged
  (summed counts, merged histograms) over all held-out cities.
* ``--test-data DIR``: a final model trained on all ``--data`` cities (with its own pooled
  validation cities) is scored on every city of DIR.

The cloud screen is off (``screen=False``): OSCD pairs were picked cloud-free, and the screen is
tuned for surface reflectance over forest. On these Level-1C (top-of-atmosphere, blue raised by
the atmosphere: median B02 1100-2200) urban scenes its "bright and white in blue" rule fires on
roofs, concrete and sand and its shadow rule on dark vegetation: on the development cities it
would flag 12-92 % of the labelled pixels and 15-100 % of the changed ones (either date), hiding
the very new buildings the labels mark (flagged pixels count as "not changed" for every method).
The shares are reported per city (``screen_would_flag``).

Two dates of a city are often different seasons (e.g. winter vs summer); the labels do not mark
that as change. ``train`` already jitters each date's radiometry independently; TrainConfig has
no field to make that jitter stronger, so the default is used.

Reference: FC-Siam-diff F1 48.86 (Daudt et al. 2018) is on the official OSCD test cities with
RGB bands; this benchmark uses other cities (leave-cities-out over the development cities) and
six bands, so the split differs and the ratio is indicative only.

Runs on CPU in about ``budget_minutes`` (default 28): the epochs of each training are sized from
the measured cost of a training step and of the earlier folds, with ``max_minutes`` as a cap.

The modules, in the order a run uses them: ``settings`` (OscdSettings, the reference figures),
``cities`` (find, import, chip), ``folds`` (the leave-cities-out plan and each fold's chip root),
``budget`` (step costs, threads, epochs per training), ``scoring`` (train a fold, score the
cities), ``report`` (the results JSON, the summary line, the PNG) and ``runner`` (``benchmark``
and ``run``, the entry of ``python -m tools bench oscd``).
"""

from tools.bench.oscd.budget import epoch_units, pick_threads, step_seconds
from tools.bench.oscd.cities import CityScene, chip_cities, find_cities, import_cities
from tools.bench.oscd.folds import Fold, build_root, chip_root_cities, count_split, plan_folds, plan_trainings
from tools.bench.oscd.report import plot, summary_line
from tools.bench.oscd.runner import benchmark, run
from tools.bench.oscd.settings import BASELINES, DEFAULT_DATA, REFERENCE, REFERENCE_F1, OscdSettings

__all__ = [
    "BASELINES",
    "DEFAULT_DATA",
    "REFERENCE",
    "REFERENCE_F1",
    "CityScene",
    "Fold",
    "OscdSettings",
    "benchmark",
    "build_root",
    "chip_cities",
    "chip_root_cities",
    "count_split",
    "epoch_units",
    "find_cities",
    "import_cities",
    "pick_threads",
    "plan_folds",
    "plan_trainings",
    "plot",
    "run",
    "step_seconds",
    "summary_line",
]
