"""Fixtures for the Kaggle tests: the emulator, credentials pointing at it, a wheel built once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.emulators.kaggle import KaggleEmulator

USER, KEY = "sentinel", "emulator-key"


@pytest.fixture(scope="session")
def kaggle_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planet_sentinel wheel, built once per test session (about a second)."""
    from planet_sentinel.kaggle.packing import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


def start_emulator(root: Path, monkeypatch: pytest.MonkeyPatch, **faults: object) -> KaggleEmulator:
    emulator = KaggleEmulator(root, username=USER, key=KEY, **faults).start()  # type: ignore[arg-type]
    monkeypatch.setenv("KAGGLE_API_ENDPOINT", emulator.url)
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(root / "no-kaggle-config"))
    return emulator


@pytest.fixture
def kaggle_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KaggleEmulator]:
    emulator = start_emulator(tmp_path / "kaggle-emulator", monkeypatch)
    yield emulator
    emulator.stop()
