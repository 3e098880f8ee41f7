"""tools.schemas.install: a failed ``npm ci`` says what npm said, not only its exit status."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tools.schemas as schemas


def test_a_failed_npm_ci_reports_npm_s_own_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm ERR! network request failed: ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    npm.chmod(0o755)
    monkeypatch.setattr(schemas, "REST_JSON", tmp_path / "absent-rest.json")
    monkeypatch.setattr(shutil, "which", lambda name: str(npm) if name == "npm" else None)
    with pytest.raises(schemas.NpmFailed, match=r"status 1:\nnpm ERR! network request failed"):
        schemas.install(timeout=30)
