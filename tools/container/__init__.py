"""Container tooling: host-built wheelhouse, a debootstrap base image, image build, run and probe.

The image build needs no network: every Python package comes from a wheelhouse built on the
host (``pip wheel`` of the project and its ``service`` dependencies, with the CPU build of torch),
and the base image is any slim Debian/Python image given as a build arg, or one made here with
``debootstrap`` when no registry is reachable. ``python -m tools.container test`` (what
``make test-container`` runs) does it all with docker or podman, whichever works, and checks that
the image really serves: /health, /ready, /model, a real /predict and the HEALTHCHECK.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planet_sentinel.deploy.engine import Engine
from planet_sentinel.errors import SentinelError

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "service" / "Dockerfile"
#: Inside the repo (git-ignored under /build/) because the build context is the repo root and
#: .dockerignore lets only these three folders in.
CONTEXT_DIR = REPO / "build" / "container"
WHEELHOUSE = CONTEXT_DIR / "wheelhouse"
PROJECT_DIR = CONTEXT_DIR / "project"
MODEL_DIR = CONTEXT_DIR / "model"
DEFAULT_BASE = "localhost/sentinel-base:bookworm"
#: Where a registry is reachable: the official slim image of the host's Python (the wheelhouse's).
SLIM_BASE = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim-bookworm"
DEFAULT_TAG = "localhost/planet-sentinel:latest"
#: The service image has no PyTorch (ONNX Runtime runs the graph); pass --torch to add one anyway.
DEFAULT_TORCH = ""
CONTAINER_PORT = 8000
MOUNTED_MODEL = "/mnt/model.onnx"
VERSION_LABEL = "org.planet-sentinel.model-version"


def log(message: str) -> None:
    print(f"[container] {message}", file=sys.stderr, flush=True)


def _run(cmd: list[str], **kwargs: Any) -> None:
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, check=False, **kwargs)
    if proc.returncode != 0:
        raise SentinelError(f"{cmd[0]} failed with exit code {proc.returncode}")


# ----------------------------------------------------------------------------- wheelhouse


def wheelhouse_key(torch_spec: str, extras: str, also: tuple[str, ...] = ()) -> str:
    """Changes when the dependencies change (pyproject.toml, torch, Python), not with our code."""
    digest = hashlib.sha256()
    digest.update(f"{torch_spec}|{extras}|{sorted(also)}|{sys.version_info[:2]}".encode())
    digest.update((REPO / "pyproject.toml").read_bytes())
    return digest.hexdigest()[:16]


def build_wheelhouse(
    out: Path = WHEELHOUSE,
    project: Path = PROJECT_DIR,
    torch_spec: str = DEFAULT_TORCH,
    extras: str = "service",
    also: tuple[str, ...] = (),
) -> Path:
    """``pip wheel`` the dependencies (``extras`` and the CPU torch) into ``out`` and the project's
    own wheel into ``project``: two folders, two image layers, so a code change rebuilds only the
    small one. The dependency folder is rebuilt only when the dependencies change.

    The host's pip configuration decides where wheels come from (PyPI, a mirror, a local
    find-links folder holding the CPU torch wheel); the image build then installs offline.
    ``also``: extra requirements the image needs beyond the project's declared ones.
    """
    key = wheelhouse_key(torch_spec, extras, also)
    stamp = out / ".key"
    if stamp.exists() and stamp.read_text().strip() == key:
        log(f"wheelhouse {out} is current ({len(list(out.glob('*.whl')))} wheels)")
    else:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir"]
        _run([*pip, str(out), *([torch_spec] if torch_spec else []), *also, f"{REPO}[{extras}]"])
        for own in out.glob("planet_sentinel-*.whl"):
            own.unlink()
        stamp.write_text(key + "\n")
        total = sum(p.stat().st_size for p in out.glob("*.whl")) / 2**20
        log(f"wheelhouse: {len(list(out.glob('*.whl')))} wheels, {total:.0f} MiB in {out}")
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(project), str(REPO)])
    return out


# ----------------------------------------------------------------------------- base image


def choose_base(engine: Engine, base: str) -> str:
    """The default base is the debootstrap image (made here if absent); without debootstrap,
    the official slim Python image (the engine pulls it)."""
    if base != DEFAULT_BASE:
        return base
    if engine.image_exists(base) or shutil.which("debootstrap") is not None:
        return make_base_image(engine, base)
    log(f"debootstrap is not installed: using {SLIM_BASE} as the base")
    return SLIM_BASE


def make_base_image(
    engine: Engine, name: str = DEFAULT_BASE, suite: str = "bookworm", workdir: Path | None = None
) -> str:
    """A minimal Debian with python3 and venv, built with debootstrap and imported (if absent).

    Use it where no registry is reachable; elsewhere pass ``--base python:3.11-slim-bookworm``.
    """
    if engine.image_exists(name):
        log(f"base image {name} present")
        return name
    if shutil.which("debootstrap") is None:
        raise SentinelError("debootstrap is not installed (apt-get install debootstrap) and no base image given")
    with tempfile.TemporaryDirectory(dir=workdir, prefix="rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                suite,
                str(rootfs),
            ],
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        log(f"importing {rootfs} as {name}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(engine.command("import", "-", name), stdin=tar.stdout, check=False)
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise SentinelError(f"importing the base image {name} failed")
    return name


# ----------------------------------------------------------------------------- model


def tiny_model(workdir: Path) -> Path:
    """A small model (one epoch on a simulated 512 px scene) to check the image with, when no
    model is given; cached in ``workdir``."""
    target = workdir / "tiny_model.onnx"
    if target.exists():
        return target
    from planet_sentinel.chips import ChipConfig, chip_scene
    from planet_sentinel.model_bundle import load_bundle
    from planet_sentinel.onnx_export import export_graph, load_parity_windows
    from planet_sentinel.sources.synthetic import SimulationConfig, simulate_scene
    from planet_sentinel.train import TrainConfig, train

    log(f"training a tiny model into {target}")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        scene = simulate_scene(SimulationConfig(name="tiny", size=512, seed=3), root / "raw")
        chips = root / "chips" / "tiny"
        chip_scene(scene.before, scene.after, scene.mask, chips, ChipConfig(size=128, split_block=128))
        config = TrainConfig(epochs=1, base=4, crop=64, batch_size=4)
        result = train(root / "chips", root / "run", config)
        export_graph(load_bundle(result.bundle_path), target, load_parity_windows(result.run_dir))
    return target


# ----------------------------------------------------------------------------- image


def stage_model(model: str | None) -> dict[str, str]:
    """Put the model to bake (a bundle file, or a registry URI exported to one) into the context.

    Returns image labels describing it. Without a model the folder is left empty and the image
    expects the graph mounted at /models/model.onnx (or ``--model models:/...`` with a registry).
    """
    if MODEL_DIR.exists():
        shutil.rmtree(MODEL_DIR)
    MODEL_DIR.mkdir(parents=True)
    (MODEL_DIR / "README").write_text("ONNX graph baked into the image (model.onnx), if any.\n")
    if not model:
        return {}
    from planet_sentinel.registry import is_registry_uri, model_files

    target = MODEL_DIR / "model.onnx"
    labels = {"org.planet-sentinel.model-spec": model}
    files = model_files(model)
    if files.graph is None:
        raise SentinelError(f"{model} has no ONNX graph (registered before graphs were exported): re-register it")
    shutil.copyfile(files.graph, target)
    if is_registry_uri(model) and files.source.get("version"):
        labels[VERSION_LABEL] = str(files.source["version"])
    digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
    labels.setdefault(VERSION_LABEL, f"file-{digest}")
    return labels


def build_image(
    engine: Engine,
    tag: str = DEFAULT_TAG,
    base: str = DEFAULT_BASE,
    model: str | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Build service/Dockerfile from the repo root (only the wheelhouse and model get in)."""
    if not any(PROJECT_DIR.glob("planet_sentinel-*.whl")) or not (WHEELHOUSE / ".key").exists():
        raise SentinelError(f"no wheelhouse in {CONTEXT_DIR}: run `python -m tools.container wheelhouse` first")
    all_labels = {**stage_model(model), **(labels or {})}
    cmd = ["build", "-f", str(DOCKERFILE), "-t", tag, "--build-arg", f"BASE_IMAGE={base}"]
    if engine.name == "podman":
        # HEALTHCHECK is a Docker-format instruction; podman's default OCI format drops it.
        cmd += ["--format", "docker", *_ulimits(engine.run_args)]
    for key, value in all_labels.items():
        cmd += ["--label", f"{key}={value}"]
    start = time.monotonic()
    _run(engine.command(*cmd, str(REPO)))
    log(f"built {tag} in {time.monotonic() - start:.0f} s")
    return tag


def _ulimits(run_args: tuple[str, ...]) -> list[str]:
    """The ``--ulimit`` pairs of the run arguments: podman's RUN steps need the same limits."""
    out: list[str] = []
    for flag, value in zip(run_args, run_args[1:], strict=False):
        if flag == "--ulimit":
            out += [flag, value]
    return out


def image_size_mb(engine: Engine, image: str) -> float:
    out = engine.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()
    return round(int(out) / 1e6, 1)


# ----------------------------------------------------------------------------- run and probe


@dataclass
class Container:
    engine: Engine
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self, lines: int = 30) -> str:
        proc = self.engine.run("logs", "--tail", str(lines), self.name, check=False)
        return (proc.stdout or "") + (proc.stderr or "")

    def remove(self) -> None:
        self.engine.run("rm", "-f", self.name, check=False)


def run_container(
    engine: Engine, image: str, port: int, name: str, model_file: Path | None = None, args: list[str] | None = None
) -> Container:
    """Start the image detached, published on 127.0.0.1:port; a ``model_file`` is mounted at
    /mnt/model.onnx and served from there (so /model's uri proves the mount is what serves)."""
    cmd = ["run", "-d", "--name", name, *engine.run_args, "-p", f"127.0.0.1:{port}:{CONTAINER_PORT}"]
    if model_file is not None:
        cmd += ["-v", f"{Path(model_file).resolve()}:{MOUNTED_MODEL}:ro"]
        args = args or ["--model", MOUNTED_MODEL, "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
    cmd += [image, *(args or [])]
    engine.run(*cmd, timeout=120)
    return Container(engine, name, port)


def healthcheck(container: Container, timeout: float = 60.0) -> str:
    """The image's own HEALTHCHECK result: ``podman healthcheck run`` or docker's health state."""
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        if container.engine.name == "podman":
            proc = container.engine.run("healthcheck", "run", container.name, check=False, timeout=60)
            status = "healthy" if proc.returncode == 0 else (proc.stdout or proc.stderr or "unhealthy").strip()
        else:
            fmt = "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"
            status = container.engine.run("inspect", "--format", fmt, container.name, check=False).stdout.strip()
        if status in ("healthy", "none"):
            return status
        time.sleep(2)
    return status


def probe(container: Container, workdir: Path, ready_timeout: float = 180.0) -> dict[str, Any]:
    """Probe a running service: /health, /ready, /model, a real /predict, and the HEALTHCHECK."""
    from planet_sentinel.deploy.probe import get_json, running_model, smoke_pair, smoke_predict, wait_ready

    def alive() -> str | None:
        fmt = "{{.State.Running}}"
        running = container.engine.run("inspect", "--format", fmt, container.name, check=False).stdout.strip()
        return None if running == "true" else f"container exited; logs:\n{container.logs()}"

    start = time.monotonic()
    wait_ready(container.url, ready_timeout, alive=alive)
    ready_s = time.monotonic() - start
    status, health = get_json(container.url, "/health")
    if status != 200:
        raise SentinelError(f"/health answered {status}: {health}")
    model = running_model(container.url)
    pair = smoke_pair(workdir)
    start = time.monotonic()
    answer = smoke_predict(container.url, pair)
    predict_s = time.monotonic() - start
    return {
        "health": health,
        "ready_s": round(ready_s, 1),
        "model": {k: model.get(k) for k in ("uri", "version", "fingerprint", "bands")},
        "predict_s": round(predict_s, 2),
        "predict_keys": sorted(answer)[:12],
        "healthcheck": healthcheck(container),
    }


def summary_line(result: dict[str, Any]) -> str:
    return json.dumps(result, default=str)
