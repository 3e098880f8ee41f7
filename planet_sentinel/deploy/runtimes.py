"""Where a service instance runs: a local process (``sentinel serve``) or a docker/podman container.

Every runtime starts an instance of a model version on a port, says whether it is still running
(and if not, why), tells which model version it runs, shows its logs and stops it. The roll-out
logic (planet_sentinel.deploy.rollout) only talks to this interface, so the same roll-out runs
and is tested with plain processes and runs for real with containers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from planet_sentinel.deploy.engine import Engine
from planet_sentinel.deploy.state import Instance
from planet_sentinel.errors import SentinelError

VERSION_LABEL = "org.planet-sentinel.model-version"
MANAGED_LABEL = "org.planet-sentinel.deploy"
CONTAINER_PORT = 8000
CONTAINER_MODEL = "/models/model.onnx"


@dataclass(frozen=True)
class Launch:
    """What one start is asked: serve ``spec`` (a pinned model URI or a bundle file) of model
    ``version`` on ``host:port`` in ``role`` (live, candidate, rollback).

    With ``share_port`` the instance can listen beside another on the same port (and lets a
    successor do so); ``probe_port`` is a private second port to check this very instance.
    """

    spec: str
    version: str
    host: str
    port: int
    role: str
    probe_port: int | None = None
    share_port: bool = False

    def instance(
        self, runtime: str, ref: str, log: str | None = None, proc_start: str | None = None, cwd: str | None = None
    ) -> Instance:
        """The started instance, known to ``runtime`` as ``ref`` (pid or container name); ``log``,
        ``proc_start`` and ``cwd`` as :class:`Instance` says (the process runtime's)."""
        return Instance(
            runtime=runtime,
            ref=ref,
            host=self.host,
            port=self.port,
            version=self.version,
            spec=self.spec,
            reuse_port=self.share_port,
            probe_port=self.probe_port,
            log=log,
            proc_start=proc_start,
            cwd=cwd,
        )


class Runtime(ABC):
    """Start, inspect and stop service instances."""

    name: str

    #: Can start an instance beside a live one on the same port (SO_REUSEPORT) for a switch
    #: without downtime; the others swap ports (stop the old, start the new).
    shares_port: bool = False

    def start(
        self,
        spec: str,
        version: str,
        host: str,
        port: int,
        role: str,
        probe_port: int | None = None,
        share_port: bool = False,
    ) -> Instance:
        """Start serving ``spec`` (a pinned model URI or a bundle file) on ``host:port`` (see :class:`Launch`)."""
        return self.launch(Launch(spec, version, host, port, role, probe_port, share_port))

    @abstractmethod
    def launch(self, launch: Launch) -> Instance:
        """Start the instance :meth:`start` describes."""

    @abstractmethod
    def failure(self, instance: Instance) -> str | None:
        """None while the instance runs; otherwise why it does not (exit code, gone)."""

    @abstractmethod
    def stop(self, instance: Instance, grace: float = 10.0) -> None:
        """Stop the instance: a graceful signal, then force after ``grace`` seconds."""

    def version(self, instance: Instance) -> str | None:
        """The model version the instance was started with, from the runtime itself (a container
        label) where it keeps one; None when only the service can say (GET /model)."""
        return None

    @abstractmethod
    def logs(self, instance: Instance, lines: int = 20) -> str:
        """The last lines of the instance's output, for error messages."""

    def prepare(self) -> str | None:
        """Make sure instances can start (containers: the image exists); what was done, if anything."""
        return None


# ----------------------------------------------------------------------------- process


def _proc_start(pid: int) -> str | None:
    """The process start time (clock ticks since boot) from /proc, or None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class ProcessRuntime(Runtime):
    """``sentinel serve`` as a detached uvicorn process (own session, output to a log file).

    It outlives the ``sentinel deploy`` that started it; the pid and its start time in the state
    file identify it later, so a recycled pid is never mistaken for it (or killed).
    """

    name = "process"
    shares_port = True

    def __init__(self, state_dir: Path) -> None:
        self.log_dir = state_dir / "logs"

    def command(
        self, spec: str, host: str, port: int, probe_port: int | None = None, share_port: bool = False
    ) -> list[str]:
        script = Path(sys.executable).with_name("sentinel")
        base = [str(script)] if script.exists() else [sys.executable, "-m", "planet_sentinel.cli"]
        extra = ["--reuse-port"] if share_port else []
        if probe_port is not None:
            extra += ["--probe-port", str(probe_port)]
        return [*base, "serve", "--model", spec, "--host", host, "--port", str(port), *extra]

    def launch(self, launch: Launch) -> Instance:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"serve-{launch.port}-{time.strftime('%Y%m%d-%H%M%S')}-{launch.role}.log"
        env = {**os.environ, "SENTINEL_QUIET": "1", "PYTHONUNBUFFERED": "1"}
        # A GitHub runner kills the processes a job leaves behind by this variable; the service
        # must outlive the deploy job.
        env.pop("RUNNER_TRACKING_ID", None)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                self.command(launch.spec, launch.host, launch.port, launch.probe_port, launch.share_port),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        return launch.instance(
            self.name, str(proc.pid), log=str(log), proc_start=_proc_start(proc.pid), cwd=os.getcwd()
        )

    def failure(self, instance: Instance) -> str | None:
        pid = int(instance.ref)
        try:  # our own child (the deploy that started it is still running): reap it
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return f"process {pid} exited with code {os.waitstatus_to_exitcode(status)}"
        except ChildProcessError:
            pass
        state = _proc_state(pid)
        if state is None:
            if Path("/proc/self").exists():
                return f"process {pid} is not running"
            try:  # no /proc (macOS): existence only
                os.kill(pid, 0)
            except ProcessLookupError:
                return f"process {pid} is not running"
            except PermissionError:
                pass
            return None
        if state in ("Z", "X"):
            return f"process {pid} exited"
        if instance.proc_start and _proc_start(pid) != instance.proc_start:
            return f"process {pid} is not running (the pid now belongs to another process)"
        return None

    def stop(self, instance: Instance, grace: float = 10.0) -> None:
        pid = int(instance.ref)
        if self.failure(instance) is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.failure(instance) is not None:
                    return
                time.sleep(0.1)
        raise SentinelError(f"process {pid} did not stop")

    def logs(self, instance: Instance, lines: int = 20) -> str:
        if not instance.log or not Path(instance.log).exists():
            return ""
        return "\n".join(Path(instance.log).read_text(errors="replace").splitlines()[-lines:])


# ----------------------------------------------------------------------------- containers


def container_name(prefix: str, version: str, role: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", version)[:40]
    return f"{prefix}-v{safe}-{role}-{time.strftime('%Y%m%d%H%M%S')}"


def health_command(port: int) -> str:
    """The image's HEALTHCHECK for a service on ``port`` (the image's own assumes 8000)."""
    url = f"http://127.0.0.1:{port}/health"
    check = f"import sys, urllib.request; sys.exit(urllib.request.urlopen('{url}', timeout=4).status != 200)"
    return f'python3 -c "{check}"'


class ContainerRuntime(Runtime):
    """The service image run by docker or podman; the model bundle is mounted read-only and the
    version is a container label, so ``inspect`` tells what runs without asking the service.

    ``network="publish"`` (default): the container's port 8000 is published on host:port; the
    engine owns that host port, so two containers cannot share it (port swap).
    ``network="host"``: the container uses the host's network and ``sentinel serve`` binds
    host:port itself, so, as with processes, a new container can share the port with
    ``--reuse-port`` (both run as the image's user, which SO_REUSEPORT requires).
    """

    def __init__(self, engine: Engine, image: str, prefix: str = "planet-sentinel", network: str = "publish") -> None:
        if network not in ("publish", "host"):
            raise SentinelError(f"unknown container network mode {network!r}: use publish or host")
        self.engine = engine
        self.image = image
        self.prefix = prefix
        self.name = engine.name
        self.network = network
        self.shares_port = network == "host"

    def run_command(self, launch: Launch, name: str) -> list[str]:
        """The ``run`` arguments of container ``name``: detached, restarted with the engine, on host:port."""
        spec, version, host, port = launch.spec, launch.version, launch.host, launch.port
        probe_port, share_port = launch.probe_port, launch.share_port
        if not Path(spec).is_file():
            raise SentinelError(
                f"{spec}: containers serve a model file (the ONNX graph; export the registry version first)"
            )
        if self.network == "host":
            network = ["--network", "host", "--health-cmd", health_command(port)]
            listen = ["--host", host, "--port", str(port)] + (["--reuse-port"] if share_port else [])
            listen += ["--probe-port", str(probe_port)] if probe_port is not None else []
        else:
            network = ["--publish", f"{host}:{port}:{CONTAINER_PORT}"]
            listen = ["--host", "0.0.0.0", "--port", str(CONTAINER_PORT)]
        return [
            "run",
            "--detach",
            "--name",
            name,
            "--restart",
            "unless-stopped",
            *self.engine.run_args,
            "--label",
            f"{VERSION_LABEL}={version}",
            "--label",
            f"{MANAGED_LABEL}=true",
            *network,
            "--volume",
            f"{Path(spec).resolve()}:{CONTAINER_MODEL}:ro",
            self.image,
            "--model",
            CONTAINER_MODEL,
            *listen,
        ]

    def prepare(self) -> str | None:
        """The image must exist: present, or built from this checkout (service/Dockerfile and
        tools/container, as on a self-hosted runner after checkout), or pulled."""
        if self.engine.image_exists(self.image):
            return None
        if Path("service/Dockerfile").is_file() and Path("tools/container").is_dir():
            cmd = [sys.executable, "-m", "tools.container", "build", "--engine", self.engine.name, "--tag", self.image]
            if subprocess.run(cmd, check=False).returncode != 0:
                raise SentinelError(f"building {self.image} failed (`{' '.join(cmd[1:])}`)")
            return f"built {self.image} from this checkout"
        self.engine.run("pull", self.image, timeout=1800)
        return f"pulled {self.image}"

    def launch(self, launch: Launch) -> Instance:
        if (launch.share_port or launch.probe_port is not None) and not self.shares_port:
            raise SentinelError(
                f"{self.name} containers that publish a port cannot share it (use the host network to share)"
            )
        name = container_name(self.prefix, launch.version, launch.role)
        command = self.run_command(launch, name)
        try:
            self.engine.run(*command, timeout=300)
        except SentinelError:  # `run` can fail after creating the container (port taken): leave nothing behind
            self.engine.run("rm", "--force", name, check=False, timeout=60)
            raise
        return launch.instance(self.name, name)

    def _inspect(self, instance: Instance, fmt: str) -> str | None:
        proc = self.engine.run("inspect", "--format", fmt, instance.ref, check=False, timeout=60)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def failure(self, instance: Instance) -> str | None:
        out = self._inspect(instance, "{{.State.Running}} {{.State.ExitCode}}")
        if out is None:
            return f"container {instance.ref} does not exist"
        running, _, code = out.partition(" ")
        return None if running == "true" else f"container {instance.ref} exited with code {code}"

    def version(self, instance: Instance) -> str | None:
        return self._inspect(instance, '{{ index .Config.Labels "' + VERSION_LABEL + '" }}') or None

    def stop(self, instance: Instance, grace: float = 10.0) -> None:
        self.engine.run("stop", "--time", str(int(grace)), instance.ref, check=False, timeout=grace + 60)
        self.engine.run("rm", "--force", instance.ref, check=False, timeout=60)

    def logs(self, instance: Instance, lines: int = 20) -> str:
        proc = self.engine.run("logs", "--tail", str(lines), instance.ref, check=False, timeout=60)
        return ((proc.stdout or "") + (proc.stderr or "")).strip()


def make_runtime(name: str, state_dir: Path, image: str, network: str = "publish") -> Runtime:
    if name == "process":
        return ProcessRuntime(state_dir)
    from planet_sentinel.deploy.engine import detect_engine

    return ContainerRuntime(detect_engine(name), image, network=network)
