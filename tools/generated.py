"""A folder of files generated from sources (rendered workflows, published JSON Schemas).

Why one module: ``python -m tools workflows render|check`` and ``python -m tools artefacts
write|check`` do the same thing to different folders: write what changed (temp file + rename),
remove generated files whose source is gone, and list what differs so CI fails on a hand edit or a
forgotten regeneration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click


def _always(path: Path) -> bool:
    return True


@dataclass(frozen=True)
class GeneratedDir:
    """``directory``'s files matching ``pattern`` that ``owned`` claims are generated ones.

    ``changed`` and ``orphaned`` finish the problem lines of :meth:`differences`; ``changed`` may
    name the file as ``{name}``.
    """

    directory: Path
    pattern: str
    changed: str
    orphaned: str
    owned: Callable[[Path], bool] = field(default=_always)

    def _generated(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [path for path in sorted(self.directory.glob(self.pattern)) if self.owned(path)]

    def differences(self, rendered: dict[str, str]) -> list[str]:
        """Missing, changed and orphaned files against ``rendered`` ({file name: text})."""
        problems = []
        for name, text in rendered.items():
            target = self.directory / name
            if not target.exists():
                problems.append(f"{target} is missing")
            elif target.read_text() != text:
                problems.append(f"{target} {self.changed.format(name=name)}")
        problems += [f"{path} {self.orphaned}" for path in self._generated() if path.name not in rendered]
        return problems

    def write(self, rendered: dict[str, str], root: Path) -> list[str]:
        """Write the files that changed, remove orphaned ones; returns ``wrote``/``removed`` lines
        with paths relative to ``root``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        done = []
        for name, text in rendered.items():
            target = self.directory / name
            if not target.exists() or target.read_text() != text:
                tmp = target.with_name(f".{name}.tmp")
                tmp.write_text(text)
                tmp.replace(target)
                done.append(f"wrote {target.relative_to(root)}")
        for path in self._generated():
            if path.name not in rendered:
                path.unlink()
                done.append(f"removed {path.relative_to(root)}")
        return done


def fail_on(problems: list[str], fix: str) -> None:
    """The ``check`` commands' failure: every problem, then ``fix`` (what to run and commit)."""
    if problems:
        raise click.ClickException("\n".join([*problems, fix]))
