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
from tools.generated import GeneratedDir, fail_on

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "docs" / "schemas"
SUFFIX = ".schema.json"


def render(model: type[Artefact]) -> str:
    """The schema file's text: stable (sorted keys, fixed indent) so a diff means a real change."""
    return json.dumps(model.json_schema(), indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    """{file name: text} for every registered artefact model."""
    return {f"{kind}{SUFFIX}": render(model) for kind, model in registered().items()}


def _schemas(schema_dir: Path) -> GeneratedDir:
    return GeneratedDir(
        schema_dir, f"*{SUFFIX}", "differs from its model", "belongs to no model in planet_sentinel.artefacts.ARTEFACTS"
    )


def differences(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """What `check` complains about: missing, changed or orphaned schema files."""
    return _schemas(schema_dir).differences(render_all())


@click.group(name="artefacts")
def artefacts() -> None:
    """Publish and check the JSON Schemas of the stage artefacts (docs/schemas/)."""


@artefacts.command()
def write() -> None:
    """Write docs/schemas/<kind>.schema.json for every artefact model (removing orphaned ones)."""
    for line in _schemas(SCHEMA_DIR).write(render_all(), ROOT):
        click.echo(line)


@artefacts.command()
def check() -> None:
    """Fail when docs/schemas differs from what the artefact models generate."""
    fail_on(differences(), "run `python -m tools artefacts write` and commit docs/schemas/")
    click.echo(f"{len(render_all())} artefact schemas match their models")
