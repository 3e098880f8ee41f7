"""The MLflow pyfunc model, logged "from code" (MLflow's recommended way: no pickled objects).

MLflow copies this file into the model version and runs it at load time; it needs the
planet-sentinel package installed. The model's one artifact is the bundle file
(planet_sentinel.model_bundle), so weights, bands, normalisation and threshold travel together.
Do not import this module: it registers its model with MLflow as a side effect.
"""

from __future__ import annotations

from typing import Any

import mlflow.models
import numpy as np
from mlflow.pyfunc.model import PythonModel


class SentinelPyfunc(PythonModel):
    """Input: uint16 array (N, 2 x bands, H, W), before bands then after bands, reflectance
    x10000. Output: float32 change probability (N, H, W), NaN where unknown (nodata, cloud).
    Prediction goes through planet_sentinel.predict, the same function as the CLI and service."""

    def load_context(self, context: Any) -> None:
        from planet_sentinel.model_bundle import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> np.ndarray:
        from planet_sentinel.errors import SentinelError
        from planet_sentinel.predict import predict_arrays

        data = np.asarray(model_input)
        n = len(self.bundle.bands)
        if data.ndim != 4 or data.shape[1] != 2 * n:
            raise SentinelError(f"expected input (N, {2 * n}, H, W): before then after bands {list(self.bundle.bands)}")
        return np.stack([predict_arrays(self.bundle, item[:n], item[n:], self.bundle.bands) for item in data])


mlflow.models.set_model(SentinelPyfunc())
