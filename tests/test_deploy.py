"""Deploy pieces that need no running service: targets, state, process handling, container
commands, probes, the CLI's failures, and the Dockerfile's rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from planet_sentinel.cli import cli
from planet_sentinel.deploy.engine import Engine, detect_engine
from planet_sentinel.deploy.probe import ProbeError, load_failure, wait_ready
from planet_sentinel.deploy.rollout import DeployConfig, deploy, free_port, port_in_use, resolve_target
from planet_sentinel.deploy.runtimes import (
    MANAGED_LABEL,
    VERSION_LABEL,
    ContainerRuntime,
    Launch,
    ProcessRuntime,
    _proc_start,
)
from planet_sentinel.deploy.state import DeployState, Instance, load_state, locked, save_state
from planet_sentinel.errors import SentinelError

REPO = Path(__file__).resolve().parents[1]


def test_file_target_is_pinned_by_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"bundle one")
    b.write_bytes(b"bundle one")
    ta, tb = resolve_target(str(a)), resolve_target(str(b))
    assert ta.version == tb.version and ta.version.startswith("file-") and not ta.registry
    b.write_bytes(b"bundle two")
    assert resolve_target(str(b)).version != ta.version
    with pytest.raises(SentinelError, match="no such file"):
        resolve_target(str(tmp_path / "missing.pth"))


def test_registry_targets(mlflow_home: Path) -> None:
    pinned = resolve_target("models:/planet-sentinel/7")
    assert (pinned.spec, pinned.version, pinned.registry) == ("models:/planet-sentinel/7", "7", True)
    with pytest.raises(SentinelError, match="alias 'champion'"):
        resolve_target("models:/planet-sentinel@champion")
    with pytest.raises(SentinelError, match="models:/NAME/VERSION"):
        resolve_target("models:/planet-sentinel/latest")
    with pytest.raises(SentinelError, match="deploy takes"):
        resolve_target("runs:/abc/model")


def test_state_round_trip_history_and_lock(tmp_path: Path) -> None:
    state = DeployState(Instance("process", "123", "127.0.0.1", 8000, "4", "models:/planet-sentinel/4"))
    for i in range(30):
        state.record({"action": "unchanged", "i": i})
    save_state(tmp_path, state)
    again = load_state(tmp_path)
    assert again.active == state.active and len(again.history) == 20 and again.history[-1]["i"] == 29
    assert again.active.url == "http://127.0.0.1:8000"
    with locked(tmp_path), pytest.raises(SentinelError, match="another deploy"):
        with locked(tmp_path):
            pass
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(SentinelError, match="unreadable deploy state"):
        load_state(tmp_path)


def test_process_runtime_stops_its_process_and_never_a_recycled_pid(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path)
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    instance = Instance("process", str(proc.pid), "127.0.0.1", 1, "1", "x", proc_start=_proc_start(proc.pid))
    assert runtime.failure(instance) is None
    impostor = Instance("process", str(proc.pid), "127.0.0.1", 1, "1", "x", proc_start="1")
    assert "another process" in runtime.failure(impostor)
    runtime.stop(impostor)  # not ours: left alone
    assert proc.poll() is None
    runtime.stop(instance, grace=5)
    proc.wait(timeout=5)  # returns at once: stopped (and reaped by the runtime), not after 60 s
    assert runtime.failure(instance) is not None


def test_process_runtime_runs_sentinel_serve(tmp_path: Path) -> None:
    runtime = ProcessRuntime(tmp_path)
    assert runtime.shares_port
    cmd = runtime.command("models:/planet-sentinel/3", "127.0.0.1", 8123)
    assert cmd[-7:] == ["serve", "--model", "models:/planet-sentinel/3", "--host", "127.0.0.1", "--port", "8123"]
    shared = runtime.command("models:/planet-sentinel/3", "127.0.0.1", 8123, probe_port=8124, share_port=True)
    assert shared[-10:] == [*cmd[-7:], "--reuse-port", "--probe-port", "8124"]


def test_instances_are_probed_on_their_private_port(tmp_path: Path) -> None:
    shared = Instance("process", "1", "127.0.0.1", 8000, "4", "m", reuse_port=True, probe_port=8001)
    assert (shared.url, shared.probe_url) == ("http://127.0.0.1:8000", "http://127.0.0.1:8001")
    assert Instance("process", "1", "::1", 8000, "4", "m", probe_port=9).probe_url == "http://[::1]:9"
    save_state(tmp_path, DeployState(shared))
    assert load_state(tmp_path).active == shared
    # a state file written before instances shared ports: probed on the public port, swapped by ports
    (tmp_path / "state.json").write_text(
        '{"active": {"runtime": "process", "ref": "1", "host": "127.0.0.1", "port": 8000, "version": "4", '
        '"spec": "m"}, "history": []}'
    )
    old = load_state(tmp_path).active
    assert not old.reuse_port and old.probe_url == old.url


def test_container_run_command(tmp_path: Path) -> None:
    bundle = tmp_path / "model.pth"
    bundle.write_bytes(b"x")
    engine = Engine("podman", "/usr/bin/podman", ("--init",))
    runtime = ContainerRuntime(engine, "localhost/planet-sentinel:latest")
    cmd = runtime.run_command(Launch(str(bundle), "5", "127.0.0.1", 8080, "live"), "ps-v5-live")
    assert cmd[:4] == ["run", "--detach", "--name", "ps-v5-live"] and "--init" in cmd
    assert f"{VERSION_LABEL}=5" in cmd and f"{MANAGED_LABEL}=true" in cmd
    assert "127.0.0.1:8080:8000" in cmd and f"{bundle}:/models/model.onnx:ro" in cmd
    assert cmd[cmd.index("localhost/planet-sentinel:latest") + 1 :] == [
        "--model",
        "/models/model.onnx",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    with pytest.raises(SentinelError, match="model file"):
        runtime.run_command(Launch("models:/planet-sentinel/5", "5", "127.0.0.1", 8080, "live"), "n")
    assert not runtime.shares_port
    with pytest.raises(SentinelError, match="cannot share it"):
        runtime.start(str(bundle), "5", "127.0.0.1", 8080, "live", share_port=True)
    # on the host network the service binds the host port itself, and can share it
    host = ContainerRuntime(engine, "localhost/planet-sentinel:latest", network="host")
    assert host.shares_port
    cmd = host.run_command(
        Launch(str(bundle), "5", "127.0.0.1", 8080, "live", probe_port=8081, share_port=True), "ps-v5-live"
    )
    assert cmd[cmd.index("--network") + 1] == "host" and "--publish" not in cmd
    assert "127.0.0.1:8080/health" in cmd[cmd.index("--health-cmd") + 1]  # the image's own checks port 8000
    assert cmd[cmd.index("localhost/planet-sentinel:latest") + 1 :] == [
        "--model",
        "/models/model.onnx",
        "--host",
        "127.0.0.1",
        "--port",
        "8080",
        "--reuse-port",
        "--probe-port",
        "8081",
    ]
    with pytest.raises(SentinelError, match="network mode"):
        ContainerRuntime(engine, "x", network="bridge")


def test_a_failed_container_run_leaves_no_container(tmp_path: Path) -> None:
    """`run` can fail after the engine created the container (its port is taken): it is removed.
    The engine here is a script standing in for the docker CLI: it logs its arguments, fails `run`."""
    calls = tmp_path / "calls"
    binary = tmp_path / "docker"
    binary.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n'
        'if [ "$1" = run ]; then echo "Error: port is already allocated" >&2; exit 125; fi\n'
    )
    binary.chmod(0o755)
    bundle = tmp_path / "model.pth"
    bundle.write_bytes(b"x")
    runtime = ContainerRuntime(Engine("docker", str(binary)), "localhost/planet-sentinel:latest")
    with pytest.raises(SentinelError, match="port is already allocated"):
        runtime.start(str(bundle), "5", "127.0.0.1", 8080, "live")
    run, rm = calls.read_text().splitlines()
    name = run.split()[run.split().index("--name") + 1]
    assert rm == f"rm --force {name}"


def test_engine_detection_reports_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SentinelError, match="docker: not installed; podman: not installed"):
        detect_engine()
    with pytest.raises(SentinelError, match="unknown container engine"):
        detect_engine("lxc")


def test_ports() -> None:
    port = free_port("127.0.0.1")
    assert not port_in_use("127.0.0.1", port)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use("127.0.0.1", port)


def test_load_failure_and_unreachable_service() -> None:
    body = {"ready": False, "model": None, "registry": {"last_error": "SentinelError: bad bundle", "failures": 1}}
    assert load_failure(body) == "SentinelError: bad bundle"
    assert load_failure({"ready": False, "registry": {"last_error": None}}) is None
    assert load_failure({"ready": True}) is None
    port = free_port("127.0.0.1")
    with pytest.raises(ProbeError, match="not ready after"):
        wait_ready(f"http://127.0.0.1:{port}", timeout=1.0, interval=0.2)
    with pytest.raises(ProbeError, match="stopped before it was ready: gone"):
        wait_ready(f"http://127.0.0.1:{port}", timeout=5.0, alive=lambda: "gone")


def test_cli_fails_cleanly_without_a_champion(mlflow_home: Path) -> None:
    state = mlflow_home / "state"
    result = CliRunner().invoke(cli, ["deploy", "--state-dir", str(state), "--port", str(free_port("127.0.0.1"))])
    assert result.exit_code == 1
    assert "no version of planet-sentinel has the alias 'champion'" in result.output
    assert load_state(state).active is None
    bad = CliRunner().invoke(cli, ["deploy", "--runtime", "lxc"])
    assert bad.exit_code == 2


def test_a_live_instance_of_another_runtime_is_not_touched(tmp_path: Path) -> None:
    state = DeployState(Instance("podman", "ps-v1-live", "127.0.0.1", 8000, "1", "/m.pth"))
    save_state(tmp_path, state)
    config = DeployConfig(model=str(tmp_path / "state.json"), state_dir=str(tmp_path))
    with pytest.raises(SentinelError, match="another runtime: stop it first"):
        deploy(config)
    assert load_state(tmp_path).active == state.active


def test_config_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from planet_sentinel.config import resolve

    params = tmp_path / "params.yaml"
    params.write_text("deploy:\n  port: 9000\n  runtime: podman\n")
    monkeypatch.setenv("SENTINEL_DEPLOY_PORT", "9100")
    config = resolve(DeployConfig, "deploy", {"runtime": None}, params_file=params)
    assert (config.port, config.runtime) == (9100, "podman")
    with pytest.raises(SentinelError, match="invalid deploy settings"):
        resolve(DeployConfig, "deploy", {"port": 70000}, params_file=params)


def test_dockerfile_rules() -> None:
    text = (REPO / "service" / "Dockerfile").read_text()
    assert text.index("ARG BASE_IMAGE") < text.index("FROM ${BASE_IMAGE} AS build")
    assert text.count("FROM ${BASE_IMAGE}") == 2  # multi-stage on the given base
    assert "--no-index" in text and "--no-cache-dir" in text  # offline, no pip cache left
    assert "HEALTHCHECK" in text and "/health" in text
    assert "\nUSER 10001" in text
    assert 'ENTRYPOINT ["sentinel", "serve"]' in text
    ignore = (REPO / ".dockerignore").read_text().split()
    assert "*" in ignore and "!build/container/wheelhouse/" in ignore
    hadolint = shutil.which("hadolint") or str(Path(REPO / ".venv" / "bin" / "hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed")
    proc = subprocess.run([hadolint, str(REPO / "service" / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
