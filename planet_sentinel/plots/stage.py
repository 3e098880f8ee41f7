"""`sentinel plots check`: every supplier plot against a prediction since the EUDR cutoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from planet_sentinel.alerts.dates import Period, iso_date, prediction_period
from planet_sentinel.artefacts import ArtefactError
from planet_sentinel.errors import SentinelError
from planet_sentinel.plots.check import PlotResult, PlotsCheckConfig, check_plot
from planet_sentinel.plots.load import Plot, PlotError, load_plots
from planet_sentinel.plots.report import report_paths, write_csv, write_geojson
from planet_sentinel.predict.summary import PredictionSummary
from planet_sentinel.raster import Grid, open_raster, refuse_existing

if TYPE_CHECKING:
    from planet_sentinel.alerts.model import AlertFeature


@dataclass(frozen=True)
class PlotsRequest:
    """One check: the plots, the prediction (its summary), optional alerts, where to write."""

    plots: Path
    summary: Path
    out_dir: Path
    config: PlotsCheckConfig = field(default_factory=PlotsCheckConfig)
    alerts: Path | None = None  # an alerts GeoJSON or an alert store file; None: the prediction's own
    observed_after: str | None = None
    observed_before: str | None = None
    overwrite: bool = False


@dataclass
class PlotsReport:
    results: list[PlotResult | PlotError]
    paths: dict[str, Path]

    @property
    def errors(self) -> list[PlotError]:
        return [r for r in self.results if isinstance(r, PlotError)]

    def summary(self) -> dict[str, object]:
        checked = [r for r in self.results if isinstance(r, PlotResult)]
        verdicts = {v: sum(r.verdict == v for r in checked) for v in ("loss detected", "unknown: clouds")}
        return {
            "plots": len(self.results),
            "checked": len(checked),
            "errors": len(self.errors),
            "loss_detected": verdicts["loss detected"],
            "unknown_clouds": verdicts["unknown: clouds"],
            **{k: str(v) for k, v in self.paths.items()},
        }


def run_plots_check(request: PlotsRequest) -> PlotsReport:
    """Check every plot; raise only when no plot at all could be checked (each reason listed)."""
    from planet_sentinel.predict.scene import output_paths

    cutoff = iso_date(request.config.cutoff, "cutoff")
    summary = PredictionSummary.load(request.summary)
    period = prediction_period(summary.before, summary.after, request.observed_after, request.observed_before)
    if period.observed_after < cutoff:
        raise SentinelError(
            f"the prediction's before scene is dated {period.observed_after}, before the cutoff {cutoff}: "
            "its loss may predate the cutoff; predict from a before scene dated on or after the cutoff"
        )
    paths = report_paths(request.plots.stem, request.out_dir)
    refuse_existing(list(paths.values()), request.overwrite)
    plots = load_plots(request.plots)
    loss_path = output_paths(summary.name, request.summary.parent)["loss"]
    alerts = _alerts(request, summary, period)
    grid = Grid.read(loss_path)
    results: list[PlotResult | PlotError] = []
    with open_raster(loss_path) as loss:
        for plot in plots:
            results.append(check_plot(plot, grid, loss, alerts, request.config) if isinstance(plot, Plot) else plot)
    if not any(isinstance(r, PlotResult) for r in results):
        reasons = "; ".join(r.message for r in results if isinstance(r, PlotError))
        raise SentinelError(f"{request.plots}: no plot could be checked: {reasons}")
    write_csv(paths["csv"], results)
    write_geojson(paths["geojson"], results)
    return PlotsReport(results, paths)


def _alerts(request: PlotsRequest, summary: PredictionSummary, period: Period) -> list[AlertFeature]:
    """The alerts to list per plot: a given file (alerts GeoJSON or store), else the prediction's own."""
    from planet_sentinel.alerts.extract import AlertContext, extract_alerts
    from planet_sentinel.alerts.model import AlertCollection
    from planet_sentinel.alerts.store import AlertStore
    from planet_sentinel.predict.scene import output_paths

    if request.alerts is not None:
        try:
            return list(AlertStore.load(request.alerts).features)
        except ArtefactError:  # not a store: an alerts file (whose own error, if any, is the one to show)
            return list(AlertCollection.load(request.alerts).features)
    predicted = output_paths(summary.name, request.summary.parent)
    context = AlertContext(
        period=period, model_name=summary.model.name or "bundle", model_version=summary.model.version
    )
    return extract_alerts(predicted["loss"], predicted["probability"], summary.min_area_ha, context)
