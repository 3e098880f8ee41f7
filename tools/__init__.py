"""Developer CLI (`python -m tools`): benchmarks, workflow rendering, emulators, act runs."""
