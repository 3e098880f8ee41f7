"""A uvicorn entry point for those who run uvicorn themselves: `uvicorn service.main:app`.

Settings come from SENTINEL_SERVE_* variables and params.yaml (see docs/service.md); `sentinel
serve` is the usual way to start the same app. All logic lives in planet_sentinel.serving.
"""

from planet_sentinel.serving.app import create_app

app = create_app()
