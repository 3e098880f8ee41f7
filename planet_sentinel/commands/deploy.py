"""`sentinel deploy`: roll out the champion with health check and roll-back."""

from __future__ import annotations

from typing import Any

import click

from planet_sentinel.commands.common import emit, json_option


@click.command(name="deploy")
@click.option("--model", help="Registry URI or bundle file [default: models:/planet-sentinel@champion].")
@click.option(
    "--runtime",
    type=click.Choice(["process", "docker", "podman"]),
    help="process: `sentinel serve` subprocess; docker/podman: the service image [default: process].",
)
@click.option("--host", help="Address to publish the service on [default: 127.0.0.1].")
@click.option("--port", type=int, help="Public port: where traffic goes [default: 8000].")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where the live instance is recorded [default: ~/.local/state/planet-sentinel/deploy].",
)
@click.option(
    "--image", help="Service image for docker/podman, pulled if absent [default: localhost/planet-sentinel:latest]."
)
@click.option("--ready-timeout", type=float, help="Seconds a new instance gets to answer /ready [default: 180].")
@click.option("--smoke/--no-smoke", default=None, help="Smoke prediction before switching traffic [default: on].")
@click.option(
    "--network",
    type=click.Choice(["publish", "host"]),
    help="docker/podman: publish the container port (port swap), or run on the host network, where containers "
    "share the port like processes (no downtime) [default: publish].",
)
@click.option(
    "--reuse-port/--no-reuse-port",
    default=None,
    help="Where the runtime can (process; containers with --network host): the new version shares the port with "
    "the old one, then the old stops (no downtime); --no-reuse-port: stop the old, then start the new [default: on].",
)
@click.option("--stop", is_flag=True, help="Stop the live instance instead of deploying.")
@json_option
@click.pass_context
def deploy(ctx: click.Context, /, stop: bool, as_json: bool, **options: Any) -> None:
    """Serve the champion: start it beside the live instance, verify, switch, stop the old.

    Compares the champion's version with the running one (container label or GET /model). If
    they differ, the new version starts on a candidate port and must answer /ready, name the
    expected version on /model and predict a small simulated pair through POST /predict; then it
    takes over the public port and the old instance stops. process runtime: the new version joins
    the public port beside the old one (SO_REUSEPORT) and the old one stops once the new one is
    verified there, so no request fails; containers swap ports (down for one start-up). On any
    failure the old instance keeps (or gets back) the port and the command exits 1 with the
    reason. Same version: nothing is restarted (action: unchanged). Settings: flag >
    SENTINEL_DEPLOY_* > params.yaml deploy > default.
    """
    from planet_sentinel.config import resolve
    from planet_sentinel.deploy.rollout import DeployConfig, stop_all
    from planet_sentinel.deploy.rollout import deploy as run_deploy

    config = resolve(DeployConfig, "deploy", options)
    if stop:
        stopped = stop_all(config)
        emit({"action": "stopped" if stopped else "none", "instance": stopped.ref if stopped else None}, as_json)
        return
    result = run_deploy(config)
    emit(result.to_dict(), as_json)
