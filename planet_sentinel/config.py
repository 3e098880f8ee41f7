"""Stage settings with one precedence rule: CLI flag > environment variable > params.yaml > default.

Every stage has a pydantic model for its settings and a section name in ``params.yaml`` (the
file DVC tracks as the pipeline's parameters). Environment variables are named
``SENTINEL_<SECTION>_<FIELD>`` (e.g. ``SENTINEL_CHIP_SIZE=128``), which is how the composite
actions pass their inputs. The params file is ``$SENTINEL_PARAMS`` or ``./params.yaml``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from planet_sentinel.errors import SentinelError

ModelT = TypeVar("ModelT", bound=BaseModel)

PARAMS_ENV = "SENTINEL_PARAMS"
DEFAULT_PARAMS = Path("params.yaml")


def params_path() -> Path:
    return Path(os.environ.get(PARAMS_ENV, DEFAULT_PARAMS))


def read_params(path: Path | None = None) -> dict[str, Any]:
    """The whole params file as a dict; an absent file means no parameters."""
    import yaml

    path = path or params_path()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SentinelError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise SentinelError(f"{path}: expected a mapping of stage sections at the top level")
    return data


def _env_values(model: type[BaseModel], section: str) -> dict[str, Any]:
    prefix = f"SENTINEL_{section.upper()}_"
    values: dict[str, Any] = {}
    for name in model.model_fields:
        raw = os.environ.get(prefix + name.upper())
        if raw is None or raw == "":
            continue
        # Lists and mappings arrive as JSON or comma-separated text; scalars are coerced by pydantic.
        if raw.startswith(("[", "{")):
            try:
                values[name] = json.loads(raw)
                continue
            except json.JSONDecodeError:
                pass
        values[name] = raw
    return values


def resolve(
    model: type[ModelT],
    section: str,
    cli_values: dict[str, Any] | None = None,
    params_file: Path | None = None,
) -> ModelT:
    """Build a stage's settings, merging the four sources in precedence order."""
    from_file = read_params(params_file).get(section) or {}
    if not isinstance(from_file, dict):
        raise SentinelError(f"params section '{section}' must be a mapping")
    unknown = set(from_file) - set(model.model_fields)
    if unknown:
        raise SentinelError(
            f"params section '{section}' has unknown keys {sorted(unknown)}; known: {sorted(model.model_fields)}"
        )
    merged: dict[str, Any] = {**from_file, **_env_values(model, section)}
    merged.update({k: v for k, v in (cli_values or {}).items() if v is not None})
    return validated(model, section, merged)


def validated(model: type[ModelT], section: str, values: dict[str, Any]) -> ModelT:
    """``model`` built from ``values``; invalid values are a SentinelError naming each field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or section}: {err['msg']}" for err in exc.errors())
        raise SentinelError(f"invalid {section} settings: {problems}") from exc
