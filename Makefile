# Two commands from a clean clone: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed before the project so that `torch>=2.2` in the extras is
# already satisfied and pip never pulls the multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1

.PHONY: demo test lint repro bench-chip clean test-container

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/sentinel demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check planet_sentinel tools tests
	$(BIN)/ruff format --check planet_sentinel tools tests
	$(BIN)/python -m tools workflows check

repro: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

bench-chip: $(BIN)/.installed
	$(BIN)/python -m tools bench chip

# Build the service image with docker or podman (whichever works) from a host-built wheelhouse and
# check it serves: /health, /ready, /model, a real /predict, the HEALTHCHECK. Not part of `make test`.
# CONTAINER_ARGS e.g. `--engine podman --base python:3.11-slim-bookworm --model runs/model_inference.pth`.
test-container: $(BIN)/.installed
	$(BIN)/python -m tools.container test $(CONTAINER_ARGS)

clean:
	rm -rf data outputs runs mlruns mlartifacts mlflow.db
