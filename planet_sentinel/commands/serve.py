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
@click.option(
    "--engine",
    type=click.Choice(["auto", "onnx", "torch"]),
    help="What runs the model: onnx, torch or auto (torch on CUDA, else the model's ONNX graph) [default: auto].",
)
@click.option("--host", help="Interface to listen on (default 127.0.0.1; 0.0.0.0 in a container).")
@click.option("--port", type=int, help="Port (default 8000; 0 picks a free one).")
@click.option("--workers", type=int, help="Predictions run at once (default 2).")
@click.option("--queue", type=int, help="Predictions allowed to wait; more get 503 + Retry-After (default 16).")
@click.option("--max-request-mb", type=float, help="Largest request body in MiB (default 256).")
@click.option("--timeout-s", type=float, help="Per-request time limit in seconds (default 300).")
@click.option("--reload-interval-s", type=float, help="Seconds between alias/file checks (default 60; 0 never).")
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Share the port with a running instance (SO_REUSEPORT), for a switch without downtime: listen only "
    "once the model is loaded (exit 1 if it cannot be), then take the port's new connections.",
)
@click.option(
    "--probe-port",
    type=int,
    help="Also listen on this private port (same host), so a deployer can check this very instance.",
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def serve(log_level: str, reuse_port: bool, probe_port: int | None, **options: Any) -> None:
    """Serve forest-loss predictions over HTTP: POST /predict, GET /health /ready /model /metrics.

    Settings: flag > SENTINEL_SERVE_<FIELD> > params.yaml `serve:` > default. The model is
    re-checked periodically and swapped without failing requests in flight. With --reuse-port a
    new version starts beside the old one on the same port; stopping the old one (SIGTERM) then
    hands over without a refused connection.
    """
    import os

    os.environ.setdefault("SENTINEL_QUIET", "1")  # no per-request progress bars in the server log
    import uvicorn

    from planet_sentinel.serving.app import create_app
    from planet_sentinel.serving.settings import load_settings

    settings = load_settings(options)
    app = create_app(settings)
    if not reuse_port and probe_port is None:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, timeout_graceful_shutdown=30)
        return
    from planet_sentinel.serving.handover import serve_on_sockets

    serve_on_sockets(app, settings, reuse_port, probe_port, log_level)
