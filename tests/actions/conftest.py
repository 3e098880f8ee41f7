"""Fixtures for the act runs: a throw-away copy of the repository, a real `mlflow server`, a local
DVC remote and the GitHub emulator, all on 127.0.0.1.

The runs chain like they do on GitHub: the pipeline versions a tiny simulated dataset into the DVC
remote (its pointer is committed into the copy by `--write-back`), then train and monitor pull it.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests.conftest import REPO_ROOT
from tools.act import ActRun, act_binary, run

BIN = Path(sys.executable).parent
REPO = "octo-org/planet-sentinel"
ORIGIN = f"https://github.com/{REPO}.git"
#: A small scene keeps every run to seconds: 768 px (enough train chips for the drift tests),
#: 128 px chips, split blocks of 128 px.
PIPELINE_INPUTS = {
    "source": "simulate",
    "name": "tiny",
    "size": "768",
    "seed": "3",
    "chip-size": "128",
    "split-block": "128",
}


def skip_inside_act() -> pytest.MarkDecorator:
    """CI runs `make test`; act must not start act (and act runs need the act binary)."""
    return pytest.mark.skipif(os.environ.get("ACT") == "true", reason="no act runs inside act")


@dataclass
class ActResult:
    returncode: int
    log: str
    #: Every job summary the run wrote (what GitHub would show on the run's page).
    summary: str = ""

    def check(self) -> ActResult:
        assert self.returncode == 0, f"act failed ({self.returncode}):\n{self.log[-6000:]}"
        return self


@dataclass
class ActEnv:
    """Where the act runs happen and what they talk to."""

    repo: Path
    dvc_remote: Path
    cache: Path
    mlflow_uri: str | None = None

    def run(self, workflow: str, timeout: float = 600, repo: Path | None = None, **kwargs: Any) -> ActResult:
        summaries = self.cache / "summaries"
        summaries.mkdir(parents=True, exist_ok=True)
        summary = summaries / f"{workflow}-{len(list(summaries.iterdir()))}.md"
        repo = repo or self.repo
        spec = ActRun(
            workflow=repo / ".github/workflows" / f"{workflow}.yml",
            repo_dir=repo,
            sentinel_dir=self.repo,
            summary_file=summary,
            dvc_remote=str(self.dvc_remote),
            mlflow_uri=self.mlflow_uri,
            cache_dir=self.cache,
            write_back=True,
            **{**kwargs, "secrets": {"GITHUB_TOKEN": "ci-token", **kwargs.get("secrets", {})}},
        )
        proc = run(spec, capture=True, timeout=timeout)
        (self.cache / f"{summary.stem}.log").write_text(proc.stdout + proc.stderr)  # the whole log, for debugging
        return ActResult(proc.returncode, proc.stdout + proc.stderr, summary.read_text() if summary.exists() else "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _copy_repository(target: Path) -> None:
    """The project's files as git sees them (tracked and new, not ignored), in a fresh git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not name.startswith("data/"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    steps = (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "copy"])
    steps += (["remote", "add", "origin", ORIGIN],)
    for args in steps:
        subprocess.run([*git, *args], cwd=target, check=True, capture_output=True)


@pytest.fixture(scope="session")
def act_env(tmp_path_factory: pytest.TempPathFactory) -> ActEnv:
    try:
        act_binary()
    except Exception as exc:  # noqa: BLE001 - click.ClickException with the install hint
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("act")
    repo = root / "repo"
    repo.mkdir()
    _copy_repository(repo)
    remote = root / "dvc-remote"
    remote.mkdir()
    return ActEnv(repo=repo, dvc_remote=remote, cache=root / "act-cache")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (sqlite backend, proxied artifacts) on an ephemeral port."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start:\n{(root / 'server.log').read_text()}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def github_emulator() -> Iterator[Any]:
    from tools.emulators.github import GitHubEmulator

    emulator = GitHubEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def pipeline_run(act_env: ActEnv) -> ActResult:
    """The pipeline workflow once: a tiny simulated scene -> chips -> baseline -> DVC remote."""
    return act_env.run("pipeline", inputs=PIPELINE_INPUTS)


@dataclass
class MonitorRuns:
    first: ActResult
    second: ActResult
    #: The emulator's issues and dispatches right after the two runs (later tests add to them).
    issues: list[dict[str, Any]]
    dispatches: list[dict[str, Any]]


@pytest.fixture(scope="session")
def monitor_runs(act_env: ActEnv, pipeline_run: ActResult, github_emulator: Any) -> MonitorRuns:
    """The monitor workflow twice on hazy scenes (data signals only): drift both times."""
    pipeline_run.check()
    inputs = {"new-data": "data/drifted", "simulate": "haze", "model": "none"}
    first = act_env.run("monitor", inputs=inputs, github_url=github_emulator.url)
    second = act_env.run("monitor", inputs=inputs, github_url=github_emulator.url)
    return MonitorRuns(
        first, second, copy.deepcopy(github_emulator.issues()), copy.deepcopy(github_emulator.dispatches())
    )


@dataclass
class ApproveRuns:
    """Approvals on the drift issue: a reader's, a writer's, then a maintainer's (a duplicate)."""

    issue: int
    results: dict[str, ActResult]
    #: Dispatches recorded after each approval, and the comments on the issue after all three.
    dispatches: dict[str, list[dict[str, Any]]]
    comments: list[dict[str, Any]]


@pytest.fixture(scope="session")
def approve_runs(
    act_env: ActEnv, monitor_runs: MonitorRuns, github_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> ApproveRuns:
    from tools.act import event_payload

    monitor_runs.second.check()
    (issue,) = monitor_runs.issues
    events = tmp_path_factory.mktemp("events")
    results, dispatches = {}, {}
    for user in ("rita-reader", "wes-writer", "maya-maintainer"):
        payload = github_emulator.user_comments(REPO, issue["number"], user, "/approve-retrain")
        event = event_payload(events / f"{user}.json", payload)
        results[user] = act_env.run("approve", event="issue_comment", event_file=event, github_url=github_emulator.url)
        dispatches[user] = copy.deepcopy(github_emulator.dispatches())
    comments = copy.deepcopy(github_emulator.issues()[0]["comments"])
    return ApproveRuns(issue["number"], results, dispatches, comments)


@pytest.fixture(scope="session")
def train_run(act_env: ActEnv, approve_runs: ApproveRuns, github_emulator: Any, mlflow_server: str) -> ActResult:
    """The train run the approval dispatched (its inputs, plus 1 epoch of a base-4 model), against
    the MLflow server; it reports back on the drift issue."""
    (dispatch,) = approve_runs.dispatches["maya-maintainer"]
    act_env.mlflow_uri = mlflow_server
    inputs = {**dispatch["inputs"], "mode": "local", "epochs": "1", "base": "4"}
    return act_env.run("train", inputs=inputs, github_url=github_emulator.url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) every test here runs on one worker:
    they share one chain of act runs (pipeline -> monitor -> approve -> train -> deploy, region) that
    session fixtures build once, and a second worker would build it again. The hook sees the whole
    session's items, so it marks only those under tests/actions."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.xdist_group("act"))
