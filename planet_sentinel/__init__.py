"""Planet Sentinel: deforestation detection in Sentinel-2 imagery, run from GitHub Actions.

All logic lives in this package, one module per pipeline stage; the `sentinel` CLI, the
composite actions, the Kaggle kernel and the FastAPI service are thin surfaces over it.
Heavy libraries (rasterio, torch, mlflow, ee) are imported inside the functions that need
them so that `sentinel --help` stays fast.
"""

__version__ = "0.1.0"
