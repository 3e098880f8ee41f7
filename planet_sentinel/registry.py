"""MLflow tracking and model registry: runs, registered versions, aliases, loading models.

The registered model is ``planet-sentinel``; a new version gets the alias ``challenger`` and
the promotion gate (planet_sentinel.promote) moves ``champion`` (what the service serves) to it
only when it beats the current champion on the same evaluation set. Aliases only: MLflow stages
are deprecated.

The MLflow model is a pyfunc wrapping the model bundle file (planet_sentinel.model_bundle), so a
version carries weights, bands, normalisation, chip size, threshold, data fingerprint and
metrics; ``load_model`` returns the same ``ModelBundle`` whether given a registry URI or a file.
Tracking defaults to ``sqlite:///mlflow.db`` with artifacts in ``mlartifacts/``; set
``MLFLOW_TRACKING_URI`` for a shared server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planet_sentinel.errors import SentinelError

if TYPE_CHECKING:
    import numpy as np

    from planet_sentinel.model_bundle import ModelBundle
    from planet_sentinel.train import TrainResult

MODEL_NAME = "planet-sentinel"
EXPERIMENT = "planet-sentinel"
CHALLENGER = "challenger"
CHAMPION = "champion"
#: What the service serves, deploy rolls out and predict/evaluate/monitor use by default.
CHAMPION_URI = f"models:/{MODEL_NAME}@{CHAMPION}"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ARTIFACT_DIR = "mlartifacts"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def display_uri(uri: str | None = None) -> str:
    """``uri`` (default: the tracking URI) fit for messages and logs: no ``user:password@`` and no
    token-like query values, since MLFLOW_TRACKING_URI may be a secret that carries both."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    text = tracking_uri() if uri is None else uri
    parts = urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    secret = ("token", "key", "secret", "password", "passwd", "pwd", "auth", "signature", "credential", "sig")
    query = [(k, "***" if any(w in k.lower() for w in secret) else v) for k, v in parse_qsl(parts.query, True)]
    if netloc == parts.netloc and not any(v == "***" for _, v in query):
        return text
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*")))


#: ``scheme://user:password@`` in any URL of an error message (MLflow's own words included).
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str) -> str:
    """An error message fit for logs and unauthenticated endpoints: the tracking URI as
    :func:`display_uri` shows it, and no credentials in any URL."""
    raw, shown = tracking_uri(), display_uri()
    if raw != shown:
        text = text.replace(raw, shown)
    return _CREDENTIALS.sub(r"\1", text)


def mlflow_module() -> Any:
    """mlflow, imported on first use (it is slow) and pointed at :func:`tracking_uri`."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def ensure_experiment(name: str = EXPERIMENT) -> str:
    """The experiment id, creating it with artifacts under ./mlartifacts for local stores."""
    mlflow = mlflow_module()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    local = tracking_uri().startswith(("sqlite:", "file:")) or "://" not in tracking_uri()
    location = Path(ARTIFACT_DIR).resolve().as_uri() if local else None
    return str(mlflow.create_experiment(name, artifact_location=location))


def model_signature(n_bands: int) -> Any:
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("uint16"), (-1, 2 * n_bands, -1, -1))]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, -1, -1))]),
    )


def input_example(bundle: ModelBundle, size: int = 32) -> np.ndarray:
    """A small realistic input: mean reflectance on both dates."""
    import numpy as np

    values = np.clip(np.round(bundle.mean), 1, 65535).astype(np.uint16)
    pair = np.concatenate([values, values])[None, :, None, None]
    return np.broadcast_to(pair, (1, len(pair[0]), size, size)).copy()


@contextmanager
def training_run(run_name: str | None = None, tags: dict[str, str] | None = None) -> Iterator[Any]:
    """An MLflow run in the project's experiment; yields the run.

    If the block fails (bad data, interrupted training) the run is deleted, so a failure leaves
    no half-logged run and certainly no registered version behind.
    """
    mlflow = mlflow_module()
    experiment_id = ensure_experiment()
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
    try:
        yield run
    except BaseException:
        mlflow.end_run("FAILED")
        mlflow.MlflowClient().delete_run(run.info.run_id)
        raise
    mlflow.end_run()


def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
    """Train callback: per-epoch metrics into the active run."""
    mlflow_module().log_metrics({k: float(v) for k, v in metrics.items()}, step=epoch)


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    alias: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def log_and_register(result: TrainResult, tags: dict[str, str] | None = None) -> RegisteredVersion:
    """Log a finished training run's params, artifacts and model to the active run, register
    the model as a new version of ``planet-sentinel`` and point ``challenger`` at it."""
    from planet_sentinel.model_bundle import load_bundle
    from planet_sentinel.onnx_export import export_graph, graph_path, load_parity_windows

    mlflow = mlflow_module()
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_and_register needs an active MLflow run (use training_run())")
    bundle = load_bundle(result.bundle_path)
    graph = graph_path(result.bundle_path)
    parity = export_graph(bundle, graph, load_parity_windows(result.run_dir))  # refuses a graph that disagrees
    mlflow.log_params({k: v for k, v in result.params.items() if v is not None})
    mlflow.log_metrics({f"best_{k}": float(v) for k, v in result.best.items() if k != "epoch"})
    mlflow.set_tags(
        {
            "fingerprint": result.fingerprint,
            "device": result.device,
            "stop_reason": str(result.extra.get("stop_reason", "")),
            **(tags or {}),
        }
    )
    for artifact in (result.run_dir / "history.json", result.preview_png):
        if artifact is not None and Path(artifact).exists():
            mlflow.log_artifact(str(artifact))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc.py")),
        artifacts={"bundle": str(result.bundle_path), "graph": str(graph)},
        signature=model_signature(len(bundle.bands)),
        input_example=input_example(bundle),
        registered_model_name=MODEL_NAME,
        pip_requirements=[
            "planet-sentinel",
            "torch",
            "onnxruntime",
            "numpy",
            "rasterio",
            f"mlflow=={mlflow.__version__}",
        ],
        metadata={
            "bands": list(bundle.bands),
            "chip_size": bundle.chip_size,
            "threshold": bundle.threshold,
            "fingerprint": bundle.fingerprint,
        },
    )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    for key, value in {
        "fingerprint": bundle.fingerprint,
        "threshold": f"{bundle.threshold:.4f}",
        "val_f1": f"{result.best.get('val_f1', float('nan')):.4f}",
        "onnx_parity_max_abs_diff": f"{parity.max_abs_diff:.2e}",
        "onnx_parity_windows": f"{parity.windows} {parity.source}",
    }.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    return RegisteredVersion(MODEL_NAME, version, run.info.run_id, CHALLENGER)


def is_registry_uri(spec: str) -> bool:
    return spec.startswith(("models:/", "runs:/"))


@dataclass(frozen=True)
class ModelFiles:
    """Where a model's files are on this machine: the PyTorch bundle and the ONNX graph (either may
    be absent: an old version has no graph, a bare ``.onnx`` file no bundle) and what it is."""

    bundle: Path | None
    graph: Path | None
    source: dict[str, Any]


def model_files(spec: str | Path) -> ModelFiles:
    """The files of an MLflow URI (downloaded: the registry's artifacts, no pyfunc loading and so no
    PyTorch import) or of a local bundle or graph file (its ``.onnx`` / ``.pt`` sibling counts)."""
    text = str(spec)
    if not is_registry_uri(text):
        path = Path(text)
        if not path.exists():
            raise SentinelError(f"{path}: no such model file")
        if path.suffix == ".onnx":
            bundle = next((p for p in (path.with_suffix(".pt"), path.with_suffix(".pth")) if p.is_file()), None)
            return ModelFiles(bundle, path, {})
        graph = path.with_suffix(".onnx")
        return ModelFiles(path, graph if graph.is_file() else None, {})
    mlflow = mlflow_module()
    from mlflow.exceptions import MlflowException

    try:
        source = {"uri": text, **describe(text)}
        # models:/name@alias resolves at download time; pin the version describe() saw.
        pinned = f"models:/{source['name']}/{source['version']}" if text.startswith("models:/") else text
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=pinned))
    except (MlflowException, OSError) as exc:
        raise SentinelError(redact(f"model {text} does not resolve in {tracking_uri()}: {exc}")) from exc
    # pyfunc.log_model copies each artifact to <model>/artifacts/<file name> (mlflow 3.17
    # mlflow/pyfunc/model.py, _save_model_with_class_artifacts_params: saved_artifacts_dir_subpath =
    # "artifacts"); the bundle is *.pt, the graph *.onnx.
    artifacts = root / "artifacts"
    bundle_file = next(iter(sorted(artifacts.glob("*.pt*"))), None)
    graph_file = next(iter(sorted(artifacts.glob("*.onnx"))), None)
    if bundle_file is None and graph_file is None:
        raise SentinelError(f"model {text}: its version holds no bundle or graph under {artifacts}")
    return ModelFiles(bundle_file, graph_file, source)


def load_model(spec: str | Path) -> ModelBundle:
    """The PyTorch ModelBundle of an MLflow URI (e.g. :data:`CHAMPION_URI`) or a local file (training,
    evaluation and the drift monitor need the network itself); its ``source`` names the graph when the
    version has one. Predictors load through :func:`planet_sentinel.predict.loading.load_predictor`."""
    from planet_sentinel.model_bundle import ModelBundle
    from planet_sentinel.predict.loading import load_predictor

    bundle = load_predictor(spec, engine="torch")
    assert isinstance(bundle, ModelBundle)
    return bundle


def describe(uri: str) -> dict[str, Any]:
    """Name, version, alias and run of a ``models:/name@alias`` or ``models:/name/version`` URI."""
    mlflow = mlflow_module()
    client = mlflow.MlflowClient()
    if not uri.startswith("models:/"):
        return {}
    ref = uri[len("models:/") :]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        mv = client.get_model_version_by_alias(name, alias)
    else:
        name, version = ref.rsplit("/", 1)
        mv, alias = client.get_model_version(name, version), ""
    return {"name": name, "version": str(mv.version), "alias": alias, "run_id": mv.run_id, "tags": dict(mv.tags)}


def alias_version(alias: str, name: str = MODEL_NAME) -> str | None:
    """The version an alias points to, or None when the alias (or the model) does not exist.

    Any other registry failure (unreachable server, refused credentials) is a SentinelError: read as
    "no champion", it would let a promotion skip the comparison."""
    mlflow = mlflow_module()
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        # mlflow 3.x stores: an unknown model is RESOURCE_DOES_NOT_EXIST, an unknown alias INVALID_PARAMETER_VALUE
        # (mlflow/store/model_registry/sqlalchemy_store.py and file_store.py, get_model_version_by_alias); a
        # transport failure is wrapped as a plain MlflowException (mlflow/utils/rest_utils.py, http_request).
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise SentinelError(f"cannot read alias '{alias}' of {name} from {display_uri()}: {exc}") from exc


def log_evaluation(bundle: ModelBundle, report: Any, paths: dict[str, Path]) -> str:
    """Log an evaluation's overall scores and files: into the model version's own run when the
    model came from the registry, otherwise into a new ``evaluate`` run. Returns the run id."""
    mlflow = mlflow_module()
    client = mlflow.MlflowClient()
    metrics = {}
    for method, result in report.overall.items():
        for key, value in result.counts.metrics().items():
            metrics[f"eval_{method}_{key}"] = float(value)
        if result.average_precision == result.average_precision:
            metrics[f"eval_{method}_ap"] = float(result.average_precision)
    run_id = str(bundle.source.get("run_id") or "")
    if not run_id:
        with training_run(run_name="evaluate", tags={"model_file": str(bundle.source.get("uri", "local file"))}) as run:
            run_id = str(run.info.run_id)
            mlflow.log_metrics(metrics)
            for path in paths.values():
                mlflow.log_artifact(str(path), artifact_path="evaluation")
        return run_id
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for path in paths.values():
        client.log_artifact(run_id, str(path), artifact_path="evaluation")
    return run_id
