"""The MLflow round trip: register, alias, load by alias, predict, promote (sqlite store)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from planet_sentinel import registry
from planet_sentinel.chips import ChipStore
from planet_sentinel.errors import SentinelError
from planet_sentinel.model_bundle import load_bundle
from planet_sentinel.predict import predict_arrays
from planet_sentinel.promote import PromoteConfig, promote
from planet_sentinel.train import TrainConfig, train

TINY = dict(epochs=1, base=4, crop=64, batch_size=4, threads=1)


def _train_and_register(chips: Path, run_dir: Path, **overrides: object) -> registry.RegisteredVersion:
    with registry.training_run(run_name=run_dir.name):
        result = train(chips, run_dir, TrainConfig(**{**TINY, **overrides}), callbacks=[registry.log_epoch])
        return registry.log_and_register(result)


def test_register_alias_load_predict(simulated_chips: Path, mlflow_home: Path) -> None:
    version = _train_and_register(simulated_chips, mlflow_home / "runs" / "a")
    assert (version.version, version.alias) == ("1", "challenger")
    assert (mlflow_home / "mlartifacts").is_dir()
    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias("planet-sentinel", "challenger")
    assert str(mv.version) == "1" and len(mv.tags["fingerprint"]) == 16
    run = client.get_run(mv.run_id)
    assert "val_f1" in run.data.metrics and run.data.params["base"] == "4"
    assert [m.step for m in client.get_metric_history(mv.run_id, "train_loss")] == [1]

    bundle = registry.load_model("models:/planet-sentinel@challenger")
    assert bundle.source["version"] == "1" and bundle.source["alias"] == "challenger"
    local = load_bundle(mlflow_home / "runs" / "a" / "model.pt")
    store = ChipStore(simulated_chips / "tiny")
    before, after = np.asarray(store.arrays["before"][0]), np.asarray(store.arrays["after"][0])
    from_registry = predict_arrays(bundle, before, after, bundle.bands)
    from_file = predict_arrays(local, before, after, local.bands)
    np.testing.assert_array_equal(from_registry, from_file)

    # The pyfunc flavour serves the same numbers through MLflow's own interface.
    pyfunc = mlflow.pyfunc.load_model("models:/planet-sentinel@challenger")
    served = pyfunc.predict(np.concatenate([before, after])[None])
    np.testing.assert_allclose(served[0], from_file, equal_nan=True)


def test_promotion_gate(simulated_chips: Path, mlflow_home: Path) -> None:
    _train_and_register(simulated_chips, mlflow_home / "runs" / "good", epochs=2)
    first = promote(simulated_chips, PromoteConfig(split="test"))
    assert first.promoted and first.reason == "no champion yet"
    assert registry.alias_version("champion") == "1"
    again = promote(simulated_chips, PromoteConfig(split="test"))
    assert not again.promoted and "already champion" in again.reason

    # A model with its weights zeroed cannot beat the champion: the gate keeps the champion.
    _train_and_register(simulated_chips, mlflow_home / "runs" / "bad", lr=1e-9)
    decision = promote(simulated_chips, PromoteConfig(split="test", min_gain=1.0))
    assert not decision.promoted and decision.champion_after == "1"
    assert "kept champion v1" in decision.reason
    forced = promote(simulated_chips, PromoteConfig(split="test", force=True, min_gain=1.0))
    assert forced.promoted and forced.reason.startswith("FORCED")
    assert registry.alias_version("champion") == "2"
    tags = mlflow.MlflowClient().get_model_version("planet-sentinel", "2").tags
    assert tags["promotion_forced"] == "true"


def test_failures_leave_no_registry_entry(simulated_chips: Path, mlflow_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SentinelError, match="no chips found"):
        _train_and_register(empty, mlflow_home / "runs" / "x")
    client = mlflow.MlflowClient()
    assert client.search_registered_models() == []
    experiment = client.get_experiment_by_name("planet-sentinel")
    assert client.search_runs([experiment.experiment_id]) == []
    with pytest.raises(SentinelError, match="does not resolve"):
        registry.load_model("models:/planet-sentinel@champion")
    with pytest.raises(SentinelError, match="no such model file"):
        registry.load_model(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(SentinelError, match="not a readable model bundle"):
        registry.load_model(corrupt)
    with pytest.raises(SentinelError, match="train one first"):
        promote(simulated_chips)


def test_alias_version_none_only_when_missing(mlflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing model is None; an unreachable registry is an error, not "no champion" (which would
    let a promotion skip the comparison)."""
    assert registry.alias_version("champion", "no-such-model") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: connection refused
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(SentinelError, match="cannot read alias 'champion'"):
        registry.alias_version("champion")
