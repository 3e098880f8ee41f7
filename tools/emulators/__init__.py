"""Local HTTP servers that speak the real wire protocols of Earth Engine, Kaggle and GitHub.

Used by the integration tests and by `python -m tools <service> serve` for debugging by hand.
"""
