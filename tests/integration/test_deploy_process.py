"""The roll-out through real `sentinel serve` processes and a private MLflow registry.

One sequence, because each step starts from what the previous one left running: the first
deploy, a deploy with nothing to do, a broken champion stopped at the candidate stage (the old
version keeps serving, untouched), a champion that breaks during the port swap (the old version
is started again: roll-back), and a good champion replacing the old one.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from planet_sentinel import registry
from planet_sentinel.cli import cli
from planet_sentinel.deploy.probe import running_model, smoke_pair, smoke_predict
from planet_sentinel.deploy.rollout import DeployConfig, DeployError, deploy, free_port, stop_all
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
    """Overwrite a registered version's bundle artifact with garbage: it can no longer load."""
    location = mlflow.MlflowClient().get_model_version_download_uri(registry.MODEL_NAME, version)
    bundles = [p for p in Path(location.removeprefix("file://")).rglob("*.pt*") if p.is_file()]
    assert bundles, f"no bundle artifact under {location}"
    for path in bundles:
        path.write_bytes(b"not a model")


def test_rollout_unchanged_rejected_rolled_back_replaced(simulated_chips: Path, mlflow_home: Path) -> None:
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

        # A champion that passes as candidate but breaks before it takes the port (its artifact
        # is corrupted when the switch begins): the old version is started again on the port.
        v3 = _register(result)
        _champion(v3)

        def break_at_switch(message: str) -> None:
            if message.startswith("switching port"):
                _break(v3)

        with pytest.raises(DeployError, match=f"rolled back to v{v1}") as switched:
            deploy(config, progress=break_at_switch)
        assert f"v{v3} (live, port {port}) failed" in str(switched.value)
        assert running_model(url)["version"] == v1
        restored = load_state(state_dir).active
        assert restored is not None and restored.ref != old.ref and restored.version == v1

        # A good champion replaces the old one on the same port; the old process is gone.
        v4 = _register(result)
        _champion(v4)
        fourth = deploy(config)
        assert (fourth.action, fourth.version, fourth.previous_version) == ("deployed", v4, v1)
        assert running_model(url)["version"] == v4
        assert runtime.failure(old) is not None and runtime.failure(restored) is not None
        new = load_state(state_dir).active
        assert new is not None and new.ref != restored.ref and new.port == port
        actions = [e["action"] for e in load_state(state_dir).history]
        assert actions == ["deployed", "unchanged", "failed", "failed", "deployed"]
    finally:
        stop_all(config)
    assert load_state(state_dir).active is None
