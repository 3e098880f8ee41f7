"""The prediction service: a FastAPI app over planet_sentinel.predict.

``create_app(settings)`` (in :mod:`planet_sentinel.serving.app`) builds the app; ``sentinel serve``
runs it under uvicorn. The endpoints are routers in :mod:`planet_sentinel.serving.routes` that get
the settings, model holder, pool and metrics as typed dependencies (:mod:`.deps`). The other
modules each have one job: settings, the model holder (load, periodic alias check, atomic swap),
the model watch, upload validation, format negotiation, the bounded inference pool, metrics,
errors, the request middleware, and the response schemas. The prediction itself is
``planet_sentinel.predict.predict_scene``, the CLI's function, so the service and ``sentinel
predict`` give identical results.
"""
