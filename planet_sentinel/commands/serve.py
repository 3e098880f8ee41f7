"""`sentinel serve`: run the FastAPI prediction service under uvicorn."""

from __future__ import annotations

from typing import Any

import click


@click.command(name="serve")
@click.option(
    "--model",
    "model",
    help="MLflow model URI (models:/planet-sentinel@champion, the default) or a bundle file "
    "(e.g. runs/model_inference.pth). Env SENTINEL_SERVE_MODEL.",
)
@click.option("--host", help="Interface to listen on (default 127.0.0.1; 0.0.0.0 in a container).")
@click.option("--port", type=int, help="Port (default 8000; 0 picks a free one).")
@click.option("--workers", type=int, help="Predictions run at once (default 2).")
@click.option("--queue", type=int, help="Predictions allowed to wait; more get 503 + Retry-After (default 16).")
@click.option("--max-request-mb", type=float, help="Largest request body in MiB (default 256).")
@click.option("--timeout-s", type=float, help="Per-request time limit in seconds (default 300).")
@click.option("--reload-interval-s", type=float, help="Seconds between alias/file checks (default 60; 0 never).")
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(log_level: str, **options: Any) -> None:
    """Serve forest-loss predictions over HTTP: POST /predict, GET /health /ready /model /metrics.

    Settings: flag > SENTINEL_SERVE_<FIELD> > params.yaml `serve:` > default. The model is
    re-checked periodically and swapped without failing requests in flight.
    """
    import os

    os.environ.setdefault("SENTINEL_QUIET", "1")  # no per-request progress bars in the server log
    import uvicorn

    from planet_sentinel.serving.app import create_app
    from planet_sentinel.serving.settings import load_settings

    settings = load_settings(options)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, timeout_graceful_shutdown=30)
