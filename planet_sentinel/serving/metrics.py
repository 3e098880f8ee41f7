"""Prometheus metrics of one app instance (its own registry: no process-global state).

Requests by route and status, a latency histogram, errors by kind, predictions by format, the
inference pool's load, and the served model (an info-style gauge carrying name, version, alias
and fingerprint, plus model swaps and failed registry checks).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from planet_sentinel.serving.schemas import ModelInfo

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class ServiceMetrics:
    """The service's metrics, registered in a private :class:`CollectorRegistry`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sentinel_http_requests",
            "HTTP requests by route/method/status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sentinel_http_request_duration_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("sentinel_errors", "Failed requests by kind.", ["kind"], registry=r)
        self.predictions = Counter("sentinel_predictions", "Successful predictions by format.", ["format"], registry=r)
        self.pixels = Counter("sentinel_predicted_pixels", "Pixels predicted.", registry=r)
        self.admitted = Gauge("sentinel_inference_admitted", "Predictions running or waiting for a worker.", registry=r)
        self.running = Gauge("sentinel_inference_running", "Predictions running.", registry=r)
        self.model = Gauge(
            "sentinel_model_info",
            "The served model (value 1), by name, version, alias and training data fingerprint.",
            ["name", "version", "alias", "fingerprint"],
            registry=r,
        )
        self.model_version = Gauge("sentinel_model_version", "Served registry version (0: file).", registry=r)
        self.model_loaded = Gauge("sentinel_model_loaded", "1 when a model is loaded.", registry=r)
        self.swaps = Gauge("sentinel_model_swaps", "Models loaded since start.", registry=r)
        self.check_failures = Gauge("sentinel_model_check_failures", "Failed model checks since start.", registry=r)
        self.last_check = Gauge(
            "sentinel_model_last_successful_check_timestamp_seconds",
            "Last successful model check.",
            registry=r,
        )

    def set_model(self, info: ModelInfo | None) -> None:
        self.model.clear()
        self.model_loaded.set(0 if info is None else 1)
        if info is None:
            return
        version = info.version or ""
        self.model.labels(
            name=info.name or "", version=version, alias=info.alias or "", fingerprint=info.fingerprint
        ).set(1)
        self.model_version.set(int(version) if version.isdigit() else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
