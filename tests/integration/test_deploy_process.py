"""The roll-out through real `sentinel serve` processes and a private MLflow registry.

Each test is one sequence, because each step starts from what the previous one left running.
The seamless switch: the first deploy, a deploy with nothing to do, a broken champion stopped at
the candidate stage, a champion that breaks when it joins the public port (the old version, never
stopped, keeps serving), and a good champion replacing the old one while a client hammers the
public port: not one request fails. The port swap: an old instance without --reuse-port, a
champion that breaks during the swap (roll-back), and the fallback switch, whose downtime the same
client sees.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from planet_sentinel import registry
from planet_sentinel.cli import cli
from planet_sentinel.deploy.probe import running_model, smoke_pair, smoke_predict
from planet_sentinel.deploy.rollout import DeployConfig, DeployError, DeployResult, deploy, free_port, stop_all
from planet_sentinel.deploy.runtimes import ProcessRuntime
from planet_sentinel.deploy.state import load_state
from planet_sentinel.train import TrainConfig, train

pytestmark = pytest.mark.slow

TINY = dict(epochs=1, base=4, crop=64, batch_size=4, threads=1)


def _register(result: object) -> str:
    with registry.training_run(run_name="deploy-test"):
        return registry.log_and_register(result).version  # type: ignore[arg-type]


def _champion(version: str) -> None:
    mlflow.MlflowClient().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, version)


def _break(version: str) -> None:
    """Overwrite a registered version's model artifacts (the bundle and the ONNX graph the service
    runs) with garbage: it can no longer load on either engine."""
    location = mlflow.MlflowClient().get_model_version_download_uri(registry.MODEL_NAME, version)
    root = Path(location.removeprefix("file://"))
    bundles = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".pt", ".pth", ".onnx")]
    assert {p.suffix for p in bundles} >= {".pt", ".onnx"}, f"no bundle and graph artifacts under {location}"
    for path in bundles:
        path.write_bytes(b"not a model")


def _breaking_at_switch(version: str) -> Callable[[str], None]:
    """A deploy ``progress`` callback that breaks ``version`` (:func:`_break`) when the switch to the
    public port begins: the champion has passed as candidate, and fails as the live instance."""

    def progress(message: str) -> None:
        if message.startswith("switching port"):
            _break(version)

    return progress


class Hammer(threading.Thread):
    """A client sending GET /model to the public port in a loop, a new connection each time (so
    every request needs the port to accept), counting failures and the versions it saw in order
    (a bundle file has no version: then the instance, by when it loaded its model)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.done = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.versions: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/model", headers={"Connection": "close"})
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    self.failures.append(str(response.status))
                    continue
                self.ok += 1
                info = json.loads(body)
                version = info["version"] or f"loaded at {info['loaded_at']}"
                if not self.versions or self.versions[-1] != version:
                    self.versions.append(version)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(type(exc).__name__)
            finally:
                conn.close()


def hammered_deploy(config: DeployConfig, label: str) -> tuple[DeployResult, Hammer]:
    """Deploy while a Hammer runs on the public port; prints the figures (pytest -s shows them)."""
    hammer = Hammer(config.port)
    hammer.start()
    time.sleep(0.3)
    start = time.monotonic()
    try:
        result = deploy(config)
    finally:
        seconds = time.monotonic() - start
        time.sleep(0.3)
        hammer.done.set()
        hammer.join(timeout=30)
    figures = {
        "switch": label,
        "rollout_s": round(seconds, 2),
        "requests_ok": hammer.ok,
        "requests_failed": len(hammer.failures),
        "failure_kinds": sorted(set(hammer.failures)),
        "versions_seen": hammer.versions,
    }
    print(json.dumps(figures))
    return result, hammer


def test_rollout_unchanged_rejected_kept_and_replaced_without_downtime(
    simulated_chips: Path, mlflow_home: Path
) -> None:
    result = train(simulated_chips, mlflow_home / "runs" / "tiny", TrainConfig(**TINY))
    v1 = _register(result)
    _champion(v1)
    port = free_port("127.0.0.1")
    state_dir = mlflow_home / "deploy-state"
    config = DeployConfig(port=port, state_dir=str(state_dir), ready_timeout=120, stop_grace=5)
    url = f"http://127.0.0.1:{port}"
    runtime = ProcessRuntime(state_dir)
    try:
        first = deploy(config)
        assert (first.action, first.version, first.previous_version) == ("deployed", v1, None)
        assert running_model(url)["version"] == v1
        old = load_state(state_dir).active
        assert old is not None and old.spec == f"models:/planet-sentinel/{v1}"
        assert old.reuse_port and old.probe_port and running_model(old.probe_url)["version"] == v1

        # Same champion: nothing restarted (same process), reported through the CLI contract.
        out = CliRunner().invoke(cli, ["deploy", "--port", str(port), "--state-dir", str(state_dir), "--json"])
        assert out.exit_code == 0, out.output
        assert '"action": "unchanged"' in out.output
        assert load_state(state_dir).active.ref == old.ref and runtime.failure(old) is None

        # A broken champion fails before it gets traffic; the old version keeps serving.
        v2 = _register(result)
        _break(v2)
        _champion(v2)
        with pytest.raises(DeployError, match=f"v{v2} \\(candidate") as failed:
            deploy(config)
        assert "could not load its model" in str(failed.value)
        assert f"serving now: v{v1} on port {port}" in str(failed.value)
        assert runtime.failure(old) is None and running_model(url)["version"] == v1
        answer = smoke_predict(url, smoke_pair(state_dir / "smoke"))
        assert answer["model"]["version"] == v1
        assert load_state(state_dir).history[-1]["action"] == "failed"

        # A champion that passes as candidate but breaks when it joins the public port (its
        # artifact is corrupted when the switch begins): it exits before it listens, and the old
        # version, never stopped, keeps the port.
        v3 = _register(result)
        _champion(v3)

        with pytest.raises(DeployError, match=f"v{v1} kept serving port {port}") as switched:
            deploy(config, progress=_breaking_at_switch(v3))
        assert f"v{v3} (live, port {port}) failed" in str(switched.value)
        assert "could not load the model" in str(switched.value)
        assert running_model(url)["version"] == v1
        assert load_state(state_dir).active.ref == old.ref and runtime.failure(old) is None

        # A good champion replaces the old one on the same port while a client hammers it: not one
        # request fails, and once the new version answers, only it does (new connections go to it).
        v4 = _register(result)
        _champion(v4)
        fourth, hammer = hammered_deploy(config, "seamless")
        assert (fourth.action, fourth.version, fourth.previous_version) == ("deployed", v4, v1)
        assert "without downtime" in fourth.reason
        assert hammer.failures == [] and hammer.ok > 0
        assert hammer.versions == [v1, v4]
        assert running_model(url)["version"] == v4
        assert runtime.failure(old) is not None
        new = load_state(state_dir).active
        assert new is not None and new.ref != old.ref and new.port == port
        assert "Application shutdown complete" in Path(old.log).read_text()  # stopped gracefully
        actions = [e["action"] for e in load_state(state_dir).history]
        assert actions == ["deployed", "unchanged", "failed", "failed", "deployed"]
    finally:
        stop_all(config)
    assert load_state(state_dir).active is None


def test_port_swap_rolls_back_and_old_instances_fall_back_to_it(simulated_chips: Path, mlflow_home: Path) -> None:
    result = train(simulated_chips, mlflow_home / "runs" / "tiny", TrainConfig(**TINY))
    v1 = _register(result)
    _champion(v1)
    port = free_port("127.0.0.1")
    state_dir = mlflow_home / "deploy-state"
    swap = DeployConfig(port=port, state_dir=str(state_dir), ready_timeout=120, stop_grace=5, reuse_port=False)
    url = f"http://127.0.0.1:{port}"
    try:
        deploy(swap)
        old = load_state(state_dir).active
        assert old is not None and not old.reuse_port and old.probe_port is None

        # Moving to a port something else holds: refused before anything is started or stopped.
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            with pytest.raises(DeployError, match=f"port {taken} on 127.0.0.1 is taken"):
                deploy(swap.model_copy(update={"port": taken}))
        assert load_state(state_dir).active.ref == old.ref and ProcessRuntime(state_dir).failure(old) is None
        assert running_model(url)["version"] == v1

        # The runtime itself fails to start the new version once the old one is stopped (here: it
        # cannot create its log directory, a file is in the way): the old version is started again.
        v_nolog = _register(result)
        _champion(v_nolog)
        logs = state_dir / "logs"

        def block_logs(message: str) -> None:
            if message.startswith("switching port"):
                logs.rename(state_dir / "logs.moved")
                logs.write_text("in the way")
            elif message.startswith("switch failed"):
                logs.unlink()
                (state_dir / "logs.moved").rename(logs)

        with pytest.raises(DeployError, match=f"rolled back to v{v1}") as unstartable:
            deploy(swap, progress=block_logs)
        assert f"v{v_nolog} (live, port {port}) could not start" in str(unstartable.value)
        assert running_model(url)["version"] == v1
        old = load_state(state_dir).active
        assert old is not None and old.version == v1 and ProcessRuntime(state_dir).failure(old) is None

        # A champion that passes as candidate but breaks during the port swap: the old version is
        # started again on the port (roll-back).
        v2 = _register(result)
        _champion(v2)

        with pytest.raises(DeployError, match=f"rolled back to v{v1}") as switched:
            deploy(swap, progress=_breaking_at_switch(v2))
        assert f"v{v2} (live, port {port}) failed" in str(switched.value)
        assert running_model(url)["version"] == v1
        restored = load_state(state_dir).active
        assert restored is not None and restored.ref != old.ref and restored.version == v1

        # The default deploy meets an old instance without --reuse-port: it says so and swaps ports,
        # and the same client as in the seamless test sees the port down.
        v3 = _register(result)
        _champion(v3)
        third, hammer = hammered_deploy(swap.model_copy(update={"reuse_port": True}), "port swap")
        assert third.version == v3 and "was not started with --reuse-port" in third.reason
        assert "port swap" in third.reason
        assert hammer.failures and hammer.versions[0] == v1 and hammer.versions[-1] == v3
        new = load_state(state_dir).active
        assert new is not None and new.reuse_port  # the next switch is seamless
        assert running_model(url)["version"] == v3
    finally:
        stop_all(swap)
