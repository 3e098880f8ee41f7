"""The roll-out: serve the champion, verified, or keep what serves now.

1. Resolve the model to a pinned version (``@champion`` -> ``models:/planet-sentinel/7``), so
   every instance serves exactly the version it was verified with, and a roll-back restarts
   exactly what ran before.
2. Compare with the live instance (a container label, else the service's GET /model, else the
   state file). Same version, same port, alive and healthy: nothing to do, nothing restarted.
3. Start the new version *beside* the old one on a free candidate port; wait for /ready, check
   /model names the expected version, and send a smoke prediction through POST /predict.
   Any failure: stop the candidate, keep the old one, fail with the reason and the log tail.
4. Switch traffic.
   * ``process`` runtime, old instance started with ``--reuse-port`` (every instance this
     runtime starts on the public port is): start the verified version on the *public* port
     beside the old one (SO_REUSEPORT; it listens only once its model is loaded and then takes
     the port's new connections), verify it again through its private probe port, then stop the
     old one gracefully (SIGTERM: uvicorn finishes the requests in flight). The port never
     closes: no request fails. If the new instance fails, it is stopped and the old one, never
     stopped, keeps serving.
   * Otherwise (containers, ``reuse_port: false``, or an old instance without ``--reuse-port``):
     a port swap. Stop the old instance, start the verified version on the public port and
     verify it again; if that fails, the old version is started again on the public port
     (roll-back) and the deploy fails. Traffic is interrupted for the start-up time of one
     instance (seconds), and only after the new version has proved it starts and predicts.
   The candidate is stopped either way.

With no live instance (first deploy, or the old one died) the new version starts straight on the
public port.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.deploy.probe import (
    SMOKE_BANDS,
    ProbeError,
    is_healthy,
    running_model,
    smoke_pair,
    smoke_predict,
    wait_ready,
)
from planet_sentinel.deploy.runtimes import Runtime, make_runtime
from planet_sentinel.deploy.state import DeployState, Instance, default_state_dir, load_state, locked, save_state
from planet_sentinel.errors import SentinelError, require_file
from planet_sentinel.registry import CHAMPION_URI

DEFAULT_MODEL = CHAMPION_URI
DEFAULT_IMAGE = "localhost/planet-sentinel:latest"

log = logging.getLogger(__name__)


class DeployError(SentinelError):
    """The roll-out failed; the message says where, and what serves now."""


class DeployConfig(BaseModel):
    """Settings of ``sentinel deploy`` (section ``deploy`` of params.yaml, env SENTINEL_DEPLOY_*)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: str = DEFAULT_MODEL
    """Registry URI (alias or version) or a bundle file."""
    runtime: Literal["process", "docker", "podman"] = "process"
    """process: `sentinel serve` subprocess; docker/podman: the service image."""
    host: str = "127.0.0.1"
    """Address the service is published on."""
    port: int = Field(8000, ge=1, le=65535)
    """Public port: where traffic goes."""
    state_dir: str | None = None
    """Where the live instance is recorded (default ~/.local/state/planet-sentinel/deploy)."""
    image: str = DEFAULT_IMAGE
    """Service image for docker/podman (pulled if absent)."""
    network: Literal["publish", "host"] = "publish"
    """docker/podman: publish the container's port (port swap), or use the host's network, where
    containers share the port like processes (switch without downtime)."""
    ready_timeout: float = Field(180.0, gt=0)
    """Seconds a new instance gets to answer /ready."""
    smoke: bool = True
    """Send a smoke prediction before switching traffic."""
    stop_grace: float = Field(10.0, ge=0)
    """Seconds between SIGTERM and SIGKILL when stopping an instance."""
    reuse_port: bool = True
    """Switch without downtime (old and new share the port) where the runtime can (process, or
    containers on the host network); false: port swap."""


@dataclass(frozen=True)
class Target:
    """The model to serve, pinned: ``spec`` is what the instance is started with."""

    spec: str
    version: str
    requested: str
    registry: bool


@dataclass
class DeployResult:
    action: str  # deployed | unchanged
    version: str
    previous_version: str | None
    runtime: str
    url: str
    instance: str
    reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_version(path: Path) -> str:
    """A bundle file's version: its content hash (the same file is the same version)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"file-{digest.hexdigest()[:12]}"


def resolve_target(model: str) -> Target:
    """Pin ``model``: an alias becomes the version it points to now; a file becomes its hash."""
    from planet_sentinel.registry import alias_version, display_uri, is_registry_uri

    if not is_registry_uri(model):
        path = require_file(model, "model bundle").resolve()
        return Target(str(path), file_version(path), model, registry=False)
    if not model.startswith("models:/"):
        raise SentinelError(f"{model}: deploy takes models:/NAME@ALIAS, models:/NAME/VERSION or a bundle file")
    ref = model[len("models:/") :]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        version = alias_version(alias, name)
        if version is None:
            raise SentinelError(f"{model}: no version of {name} has the alias '{alias}' in {display_uri()}")
    else:
        name, _, version = ref.rpartition("/")
        if not name or not version.isdigit():
            raise SentinelError(f"{model}: expected models:/NAME/VERSION")
    return Target(f"models:/{name}/{version}", version, model, registry=True)


def exported_bundle(target: Target, state_dir: Path) -> str:
    """The ONNX graph of a registry version as a file, for runtimes that mount one (containers: the
    service image has no PyTorch and runs graphs). A version registered before graphs were exported
    has none: a clear error that says how to get one."""
    if not target.registry:
        return target.spec
    import shutil

    from planet_sentinel.raster import atomic_path
    from planet_sentinel.registry import model_files

    name = target.spec[len("models:/") :].rsplit("/", 1)[0]
    path = state_dir / "models" / f"{name}-v{target.version}.onnx"
    if not path.exists():
        files = model_files(target.spec)
        if files.graph is None:
            raise SentinelError(
                f"v{target.version} has no ONNX graph (registered before graphs were exported); the container "
                "image runs graphs only: re-register it (sentinel train) or deploy with --runtime process"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".onnx") as tmp:
            shutil.copyfile(files.graph, tmp)
    return str(path)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class Rollout:
    """One roll-out against one runtime and state directory."""

    def __init__(self, config: DeployConfig, progress: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir).expanduser() if config.state_dir else default_state_dir()
        self.hook = progress
        self.runtime: Runtime = make_runtime(config.runtime, self.state_dir, config.image, config.network)

    def say(self, message: str) -> None:
        """Log a step of the roll-out; also hand it to the ``progress`` hook (tests inject failures there)."""
        log.info(message)
        if self.hook is not None:
            self.hook(message)

    # ------------------------------------------------------------------ checks

    def alive(self, instance: Instance) -> bool:
        return self.runtime.failure(instance) is None and is_healthy(instance.probe_url)

    def running_version(self, instance: Instance) -> str:
        """A container label, else what the service says it serves, else what was recorded."""
        label = self.runtime.version(instance)
        if label:
            return label
        try:
            served = running_model(instance.probe_url).get("version")
        except ProbeError:
            served = None
        return str(served) if served else instance.version

    @property
    def shares_port(self) -> bool:
        """Instances on the public port are started so that a successor can share it."""
        return self.runtime.shares_port and self.config.reuse_port

    def start_verified(self, target: Target, spec: str, port: int, role: str) -> Instance:
        """Start ``target`` on ``port`` and prove it: /ready, the right /model, a smoke prediction.

        On the public port (role live or rollback) of a runtime that shares ports, the instance
        shares the port and is checked through a private probe port: another may serve there too.
        """
        config = self.config
        share = self.shares_port and role != "candidate"
        probe_port = free_port(config.host) if share else None
        self.say(f"starting v{target.version} ({role}) on port {port} with the {self.runtime.name} runtime")
        try:  # the runtime may fail before there is an instance (`docker run` fails, no log directory)
            instance = self.runtime.start(
                spec, target.version, config.host, port, role, probe_port=probe_port, share_port=share
            )
        except (SentinelError, OSError) as exc:
            raise DeployError(f"v{target.version} ({role}, port {port}) could not start: {exc}") from exc
        url = instance.probe_url
        try:
            start = time.monotonic()
            wait_ready(url, config.ready_timeout, alive=lambda: self.runtime.failure(instance))
            info = running_model(url)
            served = info.get("version")
            if target.registry and served is not None and str(served) != target.version:
                raise ProbeError(f"/model says version {served}, expected {target.version}")
            self.say(f"v{target.version} ready in {time.monotonic() - start:.1f} s")
            unsimulated = sorted(set(info.get("bands") or ()) - set(SMOKE_BANDS))
            if config.smoke and unsimulated:
                self.say(f"smoke prediction skipped: the simulated pair lacks the model's bands {unsimulated}")
            elif config.smoke:
                start = time.monotonic()
                answer = smoke_predict(url, smoke_pair(self.state_dir / "smoke"))
                answered = (answer.get("model") or {}).get("version")
                if target.registry and answered is not None and str(answered) != target.version:
                    raise ProbeError(f"POST /predict answered with version {answered}, expected {target.version}")
                self.say(f"smoke prediction passed in {time.monotonic() - start:.1f} s")
            dead = self.runtime.failure(instance)
            if dead:
                raise ProbeError(dead)
        except Exception as exc:  # any failure of the checks: the instance must not be left running
            tail = self.runtime.logs(instance, 8)
            self.runtime.stop(instance, config.stop_grace)
            detail = f"\n--- last lines of its log ---\n{tail}" if tail else ""
            raise DeployError(f"v{target.version} ({role}, port {port}) failed: {exc}{detail}") from exc
        return instance

    # ------------------------------------------------------------------ the roll-out

    def run(self) -> DeployResult:
        config = self.config
        start = time.monotonic()
        with locked(self.state_dir):
            state = load_state(self.state_dir)
            target = resolve_target(config.model)
            self.say(f"target: {config.model} -> version {target.version}")
            live = self.live_instance(state)
            previous = self.running_version(live) if live else None
            same_place = live is not None and (live.host, live.port) == (config.host, config.port)
            if live is not None and previous == target.version and same_place:
                reason = f"v{previous} already serves on port {live.port}"
                state.record({"action": "unchanged", "version": previous})
                save_state(self.state_dir, state)
                return self.result("unchanged", target, previous, live, reason, start)
            try:
                prepared = self.runtime.prepare()
                if prepared:
                    self.say(prepared)
                spec = exported_bundle(target, self.state_dir) if self.runtime.name != "process" else target.spec
                new, reason = self.replace(state, live, target, spec)
            except SentinelError as exc:
                state.record({"action": "failed", "version": target.version, "reason": str(exc).splitlines()[0]})
                save_state(self.state_dir, state)
                raise DeployError(f"deploying v{target.version} failed: {exc}\n{self.serving_now(state)}") from exc
            state.active = new
            state.record({"action": "deployed", "version": target.version, "previous": previous})
            save_state(self.state_dir, state)
            return self.result("deployed", target, previous, new, reason, start)

    def serving_now(self, state: DeployState) -> str:
        current = state.active
        if current is not None and self.runtime.failure(current) is None:
            return f"serving now: v{current.version} on port {current.port} ({current.runtime} {current.ref})"
        return "serving now: nothing"

    def live_instance(self, state: DeployState) -> Instance | None:
        """The recorded instance if it still runs and answers /health; a dead one is cleaned up."""
        current = state.active
        if current is None:
            return None
        if current.runtime != self.runtime.name:
            raise SentinelError(
                f"the live instance {current.describe()} runs under another runtime: stop it first "
                f"(sentinel deploy --stop --runtime {current.runtime}) or deploy with --runtime {current.runtime}"
            )
        if self.alive(current):
            return current
        self.say(f"recorded instance {current.describe()} is not serving; it will be replaced")
        self.runtime.stop(current, self.config.stop_grace)
        state.active = None
        return None

    def replace(self, state: DeployState, live: Instance | None, target: Target, spec: str) -> tuple[Instance, str]:
        config = self.config
        if live is None:
            if port_in_use(config.host, config.port):
                raise DeployError(
                    f"port {config.port} on {config.host} is taken by something this deploy did not start"
                )
            return self.start_verified(target, spec, config.port, "live"), "nothing was serving"
        same_place = (live.host, live.port) == (config.host, config.port)
        if live.port != config.port and port_in_use(config.host, config.port):  # before anything is stopped
            raise DeployError(f"port {config.port} on {config.host} is taken by something else")
        candidate = self.start_verified(target, spec, free_port(config.host), "candidate")
        try:
            if self.shares_port and live.reuse_port and same_place:
                return self.switch_seamless(live, target, spec)
            why = ""
            if self.shares_port and same_place:
                why = f" ({live.describe()} was not started with --reuse-port)"
            self.say(f"switching port {config.port}: stopping {live.describe()}{why}")
            self.runtime.stop(live, config.stop_grace)
            try:  # the old instance is stopped: whatever fails now, it is started again
                new = self.start_verified(target, spec, config.port, "live")
            except Exception as exc:
                self.rollback(state, live, exc)
                raise  # rollback raises; this keeps type checkers content
        finally:
            self.runtime.stop(candidate, config.stop_grace)
        if not same_place:
            return new, f"replaced v{live.version} (moved from {live.host}:{live.port})"
        return new, f"replaced v{live.version} by a port swap{why}: port {config.port} was down for one start-up"

    def switch_seamless(self, live: Instance, target: Target, spec: str) -> tuple[Instance, str]:
        """New beside old on the public port, verified, then the old one stopped gracefully."""
        config = self.config
        self.say(f"switching port {config.port}: starting v{target.version} beside {live.describe()}")
        try:
            new = self.start_verified(target, spec, config.port, "live")
        except DeployError as exc:
            raise DeployError(f"{exc}\nv{live.version} kept serving port {live.port}: it was never stopped") from exc
        self.say(f"v{target.version} serves port {config.port}; stopping {live.describe()} gracefully")
        reason = f"replaced v{live.version} without downtime: both served port {config.port} during the switch"
        try:
            self.runtime.stop(live, config.stop_grace)
        except SentinelError as exc:  # the new one serves and is recorded; the old one needs a hand
            log.warning(f"warning: {exc}")
            reason += f"; but stopping the old instance failed ({exc}): stop {live.describe()} by hand"
        return new, reason

    def rollback(self, state: DeployState, old: Instance, cause: Exception) -> None:
        """Start the old version again where it was; always raises (the deploy failed)."""
        self.say(f"switch failed; rolling back to v{old.version} on port {old.port}")
        previous = Target(old.spec, old.version, old.spec, registry=old.spec.startswith("models:/"))
        try:
            restored = self.start_verified(previous, old.spec, old.port, "rollback")
        except Exception as again:
            state.active = None
            raise DeployError(f"{cause}\nroll-back to v{old.version} failed too: {again}") from cause
        state.active = restored
        raise DeployError(f"{cause}\nrolled back to v{old.version}") from cause

    def result(
        self, action: str, target: Target, previous: str | None, instance: Instance, reason: str, start: float
    ) -> DeployResult:
        return DeployResult(
            action=action,
            version=target.version,
            previous_version=previous,
            runtime=self.runtime.name,
            url=instance.url,
            instance=instance.ref,
            reason=reason,
            seconds=round(time.monotonic() - start, 1),
        )


def deploy(config: DeployConfig, progress: Callable[[str], None] | None = None) -> DeployResult:
    """Roll out ``config.model``; raises DeployError (old instance kept) when it fails."""
    return Rollout(config, progress).run()


def stop_all(config: DeployConfig, progress: Callable[[str], None] | None = None) -> Instance | None:
    """Stop the live instance of a state directory (``sentinel deploy --stop``); returns it."""
    rollout = Rollout(config, progress)
    with locked(rollout.state_dir):
        state = load_state(rollout.state_dir)
        current = state.active
        if current is not None:
            rollout.say(f"stopping {current.describe()}")
            runtime = rollout.runtime if current.runtime == rollout.runtime.name else None
            if runtime is None:
                raise SentinelError(f"the live instance runs with {current.runtime}; pass --runtime {current.runtime}")
            runtime.stop(current, config.stop_grace)
            state.active = None
            state.record({"action": "stopped", "version": current.version})
            save_state(rollout.state_dir, state)
        return current
