"""The library stays `mypy --strict` clean (pyproject's [tool.mypy]), as `make lint` checks."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_library_is_mypy_strict_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout
