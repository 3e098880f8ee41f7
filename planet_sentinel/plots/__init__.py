"""Supplier plots against a prediction (EUDR due diligence): loss since the cutoff, alerts inside, a verdict.

* :mod:`~planet_sentinel.plots.load`: the plots file, each bad plot a :class:`PlotError` naming it;
* :mod:`~planet_sentinel.plots.check`: one plot against the loss COG and the alerts (:class:`PlotsCheckConfig`);
* :mod:`~planet_sentinel.plots.report`: CSV and GeoJSON outputs;
* :mod:`~planet_sentinel.plots.stage`: :func:`run_plots_check`, the entry of `sentinel plots check`.
"""

from __future__ import annotations

from planet_sentinel.plots.check import PlotResult, PlotsCheckConfig
from planet_sentinel.plots.load import Plot, PlotError, load_plots
from planet_sentinel.plots.stage import PlotsReport, PlotsRequest, run_plots_check

__all__ = [
    "Plot",
    "PlotError",
    "PlotResult",
    "PlotsCheckConfig",
    "PlotsReport",
    "PlotsRequest",
    "load_plots",
    "run_plots_check",
]
