"""`sentinel alerts`: a prediction's alerts, written as files and (optionally) added to the alert store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planet_sentinel.alerts.dates import Period, prediction_period
from planet_sentinel.alerts.extract import AlertContext, extract_alerts
from planet_sentinel.alerts.model import SCENE_TILE, AlertFeature
from planet_sentinel.alerts.store import StoreUpdate, add_period, load_store, save_store
from planet_sentinel.alerts.writers import alert_paths, write_alerts
from planet_sentinel.errors import SentinelError
from planet_sentinel.raster import refuse_existing, staged_outputs

#: Shown when the model predates ``high_threshold``: nobody should read "no high alerts" as "all doubtful".
NO_HIGH_THRESHOLD = "note: the model carries no high_threshold (registered before it existed): every alert is 'nominal'"


@dataclass
class AlertsResult:
    """What `sentinel alerts` wrote and found."""

    paths: dict[str, Path]
    period: Period
    alerts: list[AlertFeature]  # the alerts the files hold: the period's new ones when a store is used
    update: StoreUpdate | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, object]:
        result: dict[str, object] = {
            "observed_after": self.period.observed_after,
            "observed_before": self.period.observed_before,
            "alerts": len(self.alerts),
            "high": sum(a.properties.confidence == "high" for a in self.alerts),
            "area_ha": round(sum(a.properties.area_ha for a in self.alerts), 4),
        }
        if self.update is not None:
            result |= {"confirmed": len(self.update.confirmed), "rerun": self.update.rerun}
        return result | {key: str(path) for key, path in self.paths.items()}


@dataclass(frozen=True)
class AlertsRequest:
    """The inputs of one `sentinel alerts` call (None: from the prediction summary or the scenes)."""

    summary: Path
    out_dir: Path
    tile_id: str = SCENE_TILE
    store: Path | None = None
    observed_after: str | None = None
    observed_before: str | None = None
    high_threshold: float | None = None
    run_id: str | None = None
    overwrite: bool = False


def run_alerts(request: AlertsRequest) -> AlertsResult:
    """Extract the prediction's alerts, add them to the store (if any), write the files."""
    from planet_sentinel.predict.scene import output_paths
    from planet_sentinel.predict.summary import PredictionSummary

    summary = PredictionSummary.load(request.summary)
    predicted = output_paths(summary.name, request.summary.parent)
    period = prediction_period(summary.before, summary.after, request.observed_after, request.observed_before)
    high = request.high_threshold
    if high is None:
        high = getattr(summary.model, "high_threshold", None)  # ModelInfo gains it with issue #14
    if high is not None and not 0 < high <= 1:
        raise SentinelError(f"high_threshold {high} must be in (0, 1]")
    model = summary.model
    context = AlertContext(
        period=period,
        model_name=model.name or Path(model.uri or "bundle").name,
        model_version=model.version,
        run_id=request.run_id or model.run_id,
        tile_id=request.tile_id,
        high_threshold=high,
    )
    paths = alert_paths(summary.name, request.out_dir)
    refuse_existing(list(paths.values()), request.overwrite)
    alerts = extract_alerts(predicted["loss"], predicted["probability"], summary.min_area_ha, context)
    update = None
    if request.store is not None:
        store = load_store(request.store)
        update = add_period(store, request.tile_id, period, alerts)
        alerts = update.new
    request.out_dir.mkdir(parents=True, exist_ok=True)
    with staged_outputs(paths, request.out_dir, f".{summary.name}_alerts.") as staged:
        write_alerts(staged, alerts, summary.name)
    if request.store is not None and update is not None and not update.rerun:
        save_store(store, request.store)
    notes = (NO_HIGH_THRESHOLD,) if high is None else ()
    return AlertsResult(paths, period, alerts, update, notes)
