"""The roll-out with the real container engine (docker or podman) and the service image.

Opt-in (SENTINEL_TEST_CONTAINER=1), like `make test-container`: it needs a working engine and
the image built by `python -m tools.container build` (SENTINEL_TEST_IMAGE, default
localhost/planet-sentinel:latest), and each container start costs tens of seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow
import pytest

from planet_sentinel import registry
from planet_sentinel.deploy.engine import detect_engine
from planet_sentinel.deploy.probe import running_model
from planet_sentinel.deploy.rollout import DEFAULT_IMAGE, DeployConfig, deploy, free_port, stop_all
from planet_sentinel.deploy.runtimes import ContainerRuntime
from planet_sentinel.deploy.state import load_state
from planet_sentinel.errors import SentinelError
from planet_sentinel.train import TrainConfig, train
from tests.integration.test_deploy_process import hammered_deploy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SENTINEL_TEST_CONTAINER") != "1", reason="set SENTINEL_TEST_CONTAINER=1"),
]


def _engine_and_image() -> tuple[Any, str]:
    """The container engine here and the built service image, or a skip that says what is missing."""
    try:
        engine = detect_engine()
    except SentinelError as exc:
        pytest.skip(str(exc))
    image = os.environ.get("SENTINEL_TEST_IMAGE", DEFAULT_IMAGE)
    if not engine.image_exists(image):
        pytest.skip(f"{image} is not built (python -m tools.container build)")
    return engine, image


def test_container_rollout(simulated_chips: Path, mlflow_home: Path) -> None:
    engine, image = _engine_and_image()
    result = train(simulated_chips, mlflow_home / "run", TrainConfig(epochs=1, base=4, crop=64, batch_size=4))
    client = mlflow.MlflowClient()
    versions = []
    for _ in range(2):
        with registry.training_run():
            versions.append(registry.log_and_register(result).version)
    client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, versions[0])
    port = free_port("127.0.0.1")
    state_dir = mlflow_home / "state"
    config = DeployConfig(runtime=engine.name, image=image, port=port, state_dir=str(state_dir), stop_grace=5)
    runtime = ContainerRuntime(engine, image)
    try:
        first = deploy(config)
        assert (first.action, first.version) == ("deployed", versions[0])
        old = load_state(state_dir).active
        assert runtime.version(old) == versions[0]
        assert deploy(config).action == "unchanged"
        client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, versions[1])
        second, hammer = hammered_deploy(config, f"{engine.name} publish")  # a port swap: the client sees it
        assert (second.action, second.version, second.previous_version) == ("deployed", versions[1], versions[0])
        assert "port swap" in second.reason and hammer.failures
        new = load_state(state_dir).active
        assert runtime.version(new) == versions[1] and new.port == port
        assert "does not exist" in runtime.failure(old)
        assert running_model(f"http://127.0.0.1:{port}")["bands"]
    finally:
        stop_all(config)


def test_container_rollout_on_the_host_network_without_downtime(simulated_chips: Path, mlflow_home: Path) -> None:
    """--network host: containers bind the host port themselves and share it like processes."""
    engine, image = _engine_and_image()
    result = train(simulated_chips, mlflow_home / "run", TrainConfig(epochs=1, base=4, crop=64, batch_size=4))
    versions = []
    for _ in range(2):
        with registry.training_run():
            versions.append(registry.log_and_register(result).version)
    client = mlflow.MlflowClient()  # after registry calls: they point mlflow at this test's store
    client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, versions[0])
    port = free_port("127.0.0.1")
    state_dir = mlflow_home / "state"
    config = DeployConfig(
        runtime=engine.name, image=image, network="host", port=port, state_dir=str(state_dir), stop_grace=5
    )
    runtime = ContainerRuntime(engine, image, network="host")
    try:
        first = deploy(config)
        old = load_state(state_dir).active
        assert first.action == "deployed" and old.reuse_port and old.probe_port
        client.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, versions[1])
        second, hammer = hammered_deploy(config, f"{engine.name} --network host")
        assert "without downtime" in second.reason, second.reason
        assert hammer.failures == [] and len(hammer.versions) == 2  # old, then new, never back
        assert runtime.version(load_state(state_dir).active) == versions[1]
        assert "does not exist" in runtime.failure(old)
        # a mounted bundle file has no version: the instance answering is the one the client saw last
        assert f"loaded at {running_model(f'http://127.0.0.1:{port}')['loaded_at']}" == hammer.versions[-1]
    finally:
        stop_all(config)
