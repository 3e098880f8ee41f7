"""`python -m tools artefacts write|check`: the published JSON Schemas of the stage artefacts.

Every model listed in ``planet_sentinel.artefacts.ARTEFACTS`` gets ``docs/schemas/<kind>.schema.json``
so users' own tools can validate our outputs. ``write`` (re)generates them; ``check`` fails when a
checked-in schema is missing, differs from what the model generates, or belongs to no model any
more, so CI catches a model changed without its published schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from planet_sentinel.artefacts import Artefact, registered

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "docs" / "schemas"
SUFFIX = ".schema.json"


def render(model: type[Artefact]) -> str:
    """The schema file's text: stable (sorted keys, fixed indent) so a diff means a real change."""
    return json.dumps(model.json_schema(), indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    """{file name: text} for every registered artefact model."""
    return {f"{kind}{SUFFIX}": render(model) for kind, model in registered().items()}


def differences(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """What `check` complains about: missing, changed or orphaned schema files."""
    rendered = render_all()
    problems = []
    for name, text in rendered.items():
        target = schema_dir / name
        if not target.exists():
            problems.append(f"{target} is missing")
        elif target.read_text() != text:
            problems.append(f"{target} differs from its model")
    for target in sorted(schema_dir.glob(f"*{SUFFIX}")) if schema_dir.is_dir() else []:
        if target.name not in rendered:
            problems.append(f"{target} belongs to no model in planet_sentinel.artefacts.ARTEFACTS")
    return problems


@click.group(name="artefacts")
def artefacts() -> None:
    """Publish and check the JSON Schemas of the stage artefacts (docs/schemas/)."""


@artefacts.command()
def write() -> None:
    """Write docs/schemas/<kind>.schema.json for every artefact model (removing orphaned ones)."""
    rendered = render_all()
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        target = SCHEMA_DIR / name
        if not target.exists() or target.read_text() != text:
            tmp = target.with_name(f".{name}.tmp")
            tmp.write_text(text)
            tmp.replace(target)
            click.echo(f"wrote {target.relative_to(ROOT)}")
    for target in SCHEMA_DIR.glob(f"*{SUFFIX}"):
        if target.name not in rendered:
            target.unlink()
            click.echo(f"removed {target.relative_to(ROOT)}")


@artefacts.command()
def check() -> None:
    """Fail when docs/schemas differs from what the artefact models generate."""
    problems = differences()
    if problems:
        raise click.ClickException(
            "\n".join(problems) + "\nrun `python -m tools artefacts write` and commit docs/schemas/"
        )
    click.echo(f"{len(render_all())} artefact schemas match their models")
