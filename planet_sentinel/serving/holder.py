"""The served model: loaded once, re-checked periodically, swapped atomically.

A request takes a snapshot (:meth:`ModelHolder.current`) when it starts and predicts with it to
the end, so swapping the reference never disturbs a request in flight; the old model is freed
when its last request finishes. A failed check (registry unreachable, alias missing, corrupt
file) is recorded and the current model keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError
from planet_sentinel.registry import redact

if TYPE_CHECKING:
    from planet_sentinel.predict.engines import Model

log = logging.getLogger("planet_sentinel.serving")


@dataclass(frozen=True)
class LoadedModel:
    """An immutable snapshot: the bundle, what identifies it, and when it was loaded."""

    bundle: Model
    key: str
    info: dict[str, Any]
    loaded_at: float


@dataclass
class CheckStatus:
    """The outcome of the last alias/file check."""

    last_check: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0
    swaps: int = 0
    history: list[str] = field(default_factory=list)


def parse_registry_spec(spec: str) -> tuple[str, str, str] | None:
    """``models:/name@alias`` -> (name, "alias", alias); ``models:/name/version`` -> (name, "version", v)."""
    if not spec.startswith("models:/"):
        return None
    ref = spec[len("models:/") :]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, "alias", alias
    name, _, version = ref.rpartition("/")
    return name, "version", version


class ModelHolder:
    """Holds the current model for ``spec`` and refreshes it when the alias or file changes."""

    def __init__(self, spec: str, engine: str = "auto", device: str | None = None, threads: int | None = None) -> None:
        self.spec = spec
        self.engine, self.device, self.threads = engine, device, threads
        self.status = CheckStatus()
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()  # one load at a time; readers never wait for it

    def current(self) -> LoadedModel | None:
        return self._current

    def _target_key(self) -> str:
        """What the spec points at now: a registry version, or a file's size and mtime."""
        from planet_sentinel import registry

        parsed = parse_registry_spec(self.spec)
        if parsed is not None:
            name, kind, ref = parsed
            if kind == "version":
                return ref
            try:
                return str(registry.describe(self.spec)["version"])
            except Exception as exc:  # unreachable, or the alias is gone: say which, in the registry's words
                raise SentinelError(f"alias '{ref}' of {name} in {registry.display_uri()}: {exc}") from exc
        if registry.is_registry_uri(self.spec):  # runs:/...: immutable
            return self.spec
        path = Path(self.spec)
        if not path.is_file():
            raise SentinelError(f"{path}: no such model file")
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def _load(self, key: str) -> Model:
        from planet_sentinel.predict.loading import load_predictor

        parsed = parse_registry_spec(self.spec)
        if parsed is None:
            model = load_predictor(self.spec, self.engine, self.device, self.threads)
            model.source = {**model.source, "uri": model.source.get("uri") or self.spec}
            return model
        name, kind, ref = parsed
        # the resolved version: no race with the alias
        model = load_predictor(f"models:/{name}/{key}", self.engine, self.device, self.threads)
        model.source = {**model.source, "uri": self.spec, "alias": ref if kind == "alias" else ""}
        return model

    def refresh(self) -> bool:
        """Load the model if what the spec points at changed; True when a new model was swapped in.

        Never raises: on failure the current model (if any) keeps serving and the error is kept
        in :attr:`status`.
        """
        from planet_sentinel.predict import model_info

        with self._lock:
            now = time.time()
            self.status.last_check = now
            try:
                key = self._target_key()
                current = self._current
                if current is not None and current.key == key:
                    self.status.last_success, self.status.last_error = now, None
                    return False
                model = self._load(key)
                loaded = LoadedModel(model, key, model_info(model), time.time())
            except Exception as exc:  # the registry may fail in any way; the service must not
                self.status.failures += 1
                self.status.last_error = redact(f"{type(exc).__name__}: {exc}")
                log.warning(
                    "model check failed for %s (still serving %s): %s",
                    self.spec,
                    self._describe(),
                    self.status.last_error,
                )
                return False
            previous = self._describe()
            self._current = loaded  # one reference assignment: atomic for every reader
            self.status.last_success, self.status.last_error = now, None
            self.status.swaps += 1
            self.status.history.append(str(loaded.info.get("version") or key))
            log.info("serving %s (was %s)", self._describe(), previous)
            return True

    def _describe(self) -> str:
        current = self._current
        if current is None:
            return "nothing"
        info = current.info
        if info.get("version"):
            return f"{info.get('name')} v{info['version']}" + (f" @{info['alias']}" if info.get("alias") else "")
        return f"{self.spec} ({current.key})"
