"""Local HTTP servers that speak the real wire protocols of Earth Engine, Kaggle and GitHub.

Used by the integration tests and by `python -m tools <service> serve` for debugging by hand. All three
stand on one base: :mod:`.server` (the request handler and the life cycle) and :mod:`.routing`
(request, response, error answer, routing by method + path template). Earth Engine:
:mod:`.earthengine` (scene and API methods), :mod:`.ee_http` (routes, request log), :mod:`.ee_exports`,
:mod:`.ee_graph`, :mod:`.ee_eval`, :mod:`.ee_discovery`, :mod:`.ee_errors`. Kaggle: :mod:`.kaggle`.
GitHub: the :mod:`.github` package (emulator, routes, issues, actions, git, shapes, state).
"""
