"""tools/act.py's process handling: a timed-out act run must not leave its step processes behind
(act in host mode starts every step in a session of its own, so killing act alone misses them)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.actions.conftest import skip_inside_act
from tools.act import ActRun, _alive, act_binary, run, run_process_tree

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tables of Linux")


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _all_ended(pids: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(_alive(pid) for pid in pids)


def test_timeout_ends_children_in_other_sessions_even_if_they_ignore_sigterm(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"""
        setsid bash -c 'trap "" TERM; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait' &
        sleep 300 & echo $! >> {pids}
        echo started
        wait
    """
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        run_process_tree(["bash", "-c", script], capture=True, timeout=2, grace=1)
    assert time.monotonic() - start < 10
    assert "started" in (caught.value.output or "")
    started = _pids(pids)
    assert len(started) == 3
    assert _all_ended(started), [pid for pid in started if _alive(pid)]


def test_normal_exit_returns_output_and_code() -> None:
    done = run_process_tree(["bash", "-c", "echo out; echo err >&2; exit 3"], capture=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


@skip_inside_act()
@pytest.mark.slow
def test_act_timeout_leaves_no_step_process(tmp_path: Path) -> None:
    try:
        act_binary()
    except Exception as exc:  # noqa: BLE001 - click.ClickException with the install hint
        pytest.skip(str(exc))
    repo = tmp_path / "repo"
    (repo / ".github/workflows").mkdir(parents=True)
    workflow = repo / ".github/workflows/sleep.yml"
    workflow.write_text(
        "name: sleep\non: workflow_dispatch\njobs:\n  sleep:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: sleep 300 & echo $! >> "$PID_FILE"; echo $$ >> "$PID_FILE"; wait\n'
    )
    pids = tmp_path / "pids"
    spec = ActRun(workflow=workflow, repo_dir=repo, cache_dir=tmp_path / "cache", env={"PID_FILE": str(pids)})
    with pytest.raises(subprocess.TimeoutExpired):
        run(spec, capture=True, timeout=15, grace=2)
    started = _pids(pids)
    assert len(started) == 2, "the step did not start within the timeout"
    assert _all_ended(started), [pid for pid in started if _alive(pid)]
