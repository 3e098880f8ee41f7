"""tools.generated: the write/check of generated folders (rendered workflows, JSON Schemas)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from tools.generated import GeneratedDir, fail_on


def _folder(directory: Path) -> GeneratedDir:
    return GeneratedDir(directory, "*.txt", "differs from {name}.src", "has no source", lambda p: p.name != "own.txt")


def test_write_updates_changed_removes_orphans_and_keeps_files_it_does_not_own(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = _folder(out)
    out.mkdir()
    (out / "same.txt").write_text("same\n")
    (out / "stale.txt").write_text("old\n")
    (out / "own.txt").write_text("hand-written\n")
    rendered = {"same.txt": "same\n", "new.txt": "new\n"}
    assert folder.differences(rendered) == [f"{out / 'new.txt'} is missing", f"{out / 'stale.txt'} has no source"]
    assert folder.write(rendered, tmp_path) == ["wrote out/new.txt", "removed out/stale.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["new.txt", "own.txt", "same.txt"]
    assert folder.differences(rendered) == []
    (out / "new.txt").write_text("edited by hand\n")
    assert folder.differences(rendered) == [f"{out / 'new.txt'} differs from new.txt.src"]


def test_a_missing_folder_is_created_and_check_names_every_problem_then_the_fix(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "absent")
    assert folder.differences({"a.txt": "a"}) == [f"{tmp_path / 'absent' / 'a.txt'} is missing"]
    assert folder.write({"a.txt": "a"}, tmp_path) == ["wrote absent/a.txt"]
    fail_on([], "never shown")
    with pytest.raises(click.ClickException) as failed:
        fail_on(["one", "two"], "run this")
    assert failed.value.message == "one\ntwo\nrun this"
