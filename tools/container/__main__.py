"""`python -m tools.container`: wheelhouse, base image, build, and the end-to-end image test."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import click

import tools.container as c


def _engine(name: str | None) -> c.Engine:
    from planet_sentinel.deploy.engine import detect_engine

    return detect_engine(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


engine_option = click.option(
    "--engine", "engine_name", type=click.Choice(["docker", "podman"]), help="Default: first that works."
)
base_option = click.option("--base", default=c.DEFAULT_BASE, show_default=True, help="BASE_IMAGE build arg.")
tag_option = click.option("--tag", default=c.DEFAULT_TAG, show_default=True)
also_option = click.option(
    "--also",
    multiple=True,
    help="An extra requirement for the image beyond the project's declared dependencies (repeat).",
)
model_option = click.option("--model", help="Bake this model in: a bundle file or models:/planet-sentinel@champion.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Build and check the service image with docker or podman."""


@main.command()
@click.option(
    "--torch",
    "torch_spec",
    default=c.DEFAULT_TORCH,
    show_default=True,
    help="A torch requirement to add (default none: the image runs ONNX graphs).",
)
@also_option
def wheelhouse(torch_spec: str, also: tuple[str, ...]) -> None:
    """pip wheel the project's service dependencies and CPU torch into build/container/wheelhouse."""
    click.echo(c.build_wheelhouse(torch_spec=torch_spec, also=also))


@main.command()
@engine_option
@click.option("--name", default=c.DEFAULT_BASE, show_default=True)
@click.option("--suite", default="bookworm", show_default=True)
def base(engine_name: str | None, name: str, suite: str) -> None:
    """Make a minimal Debian + python3 base image with debootstrap (for hosts without a registry)."""
    click.echo(c.make_base_image(_engine(engine_name), name, suite))


@main.command()
@engine_option
@base_option
@tag_option
@model_option
@also_option
def build(engine_name: str | None, base: str, tag: str, model: str | None, also: tuple[str, ...]) -> None:
    """Refresh the wheelhouse, build service/Dockerfile, print the image and its size."""
    engine = _engine(engine_name)
    c.build_wheelhouse(also=also)
    c.build_image(engine, tag, c.choose_base(engine, base), model)
    click.echo(c.summary_line({"image": tag, "engine": engine.name, "size_mb": c.image_size_mb(engine, tag)}))


@main.command()
@engine_option
@base_option
@tag_option
@click.option(
    "--model",
    "model",
    type=click.Path(dir_okay=False, exists=True),
    help="A model bundle file (e.g. runs/model_inference.pth), baked in and mounted in a second run "
    "[default: a tiny model trained for one epoch on a simulated scene].",
)
@click.option("--workdir", type=click.Path(file_okay=False), default="build/container/probe", show_default=True)
@click.option("--keep", is_flag=True, help="Leave the container running afterwards.")
@click.option("--skip-build", is_flag=True, help="Probe an image that is already built.")
@also_option
def test(
    engine_name: str | None,
    base: str,
    tag: str,
    model: str | None,
    workdir: str,
    keep: bool,
    skip_build: bool,
    also: tuple[str, ...],
) -> None:
    """Wheelhouse, base image (if it is the debootstrap one), build, run, probe: the image test.

    Runs the image twice: with the baked-in model, and with the same bundle mounted over it, and
    checks /health, /ready, /model, a real /predict and the HEALTHCHECK each time.
    """
    engine = _engine(engine_name)
    c.log(f"engine: {engine.name} ({engine.binary})")
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    model = model or str(c.tiny_model(work))
    start = time.monotonic()
    if not skip_build:
        c.build_wheelhouse(also=also)
        c.build_image(engine, tag, c.choose_base(engine, base), model)
    build_s = time.monotonic() - start
    results: dict[str, object] = {"image": tag, "engine": engine.name, "size_mb": c.image_size_mb(engine, tag)}
    failures = []
    for mode, mount in (("baked", None), ("mounted", Path(model))):
        name = f"sentinel-test-{mode}-{int(time.time())}"
        container = c.run_container(engine, tag, _free_port(), name, model_file=mount)
        try:
            probed = results[mode] = c.probe(container, work)
            if probed["healthcheck"] not in ("healthy", "none"):
                failures.append(f"{mode}: HEALTHCHECK {probed['healthcheck']}")
            expected_uri = c.MOUNTED_MODEL if mount else "/models/model.onnx"
            if probed["model"]["uri"] != expected_uri:
                failures.append(f"{mode}: serves {probed['model']['uri']}, expected {expected_uri}")
        except Exception as exc:  # report every failure with the container's logs
            failures.append(f"{mode}: {exc}\n{container.logs()}")
        finally:
            if not keep:
                container.remove()
    results["build_s"] = round(build_s, 1)
    click.echo(c.summary_line(results))
    if failures:
        click.echo("\n".join(failures), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main(prog_name="python -m tools.container")
