# Two commands from a clean clone: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Installs come from uv.lock (`uv sync --frozen`): every package of every extra at the version
# locked there. torch is the one exception (pyproject's [tool.uv] exclude-dependencies): its CPU
# build is installed first with pip, so `torch>=2.2` in the extras is already satisfied and
# nothing pulls the multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
UV_VERSION ?= 0.13.9
UV := $(BIN)/uv
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
# uv installs into this venv (not a .venv of its own choosing) and never rewrites the lock here.
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: demo test lint repro bench-chip clean test-container lock lock-check

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(UV) sync --quiet --frozen --inexact --extra all --extra dev
	touch $@

# Rewrite uv.lock after a change of pyproject.toml (needs the package index), then commit it.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) lock

# Fails when uv.lock no longer matches pyproject.toml.
lock-check: $(BIN)/.installed
	$(UV) lock --check

demo: $(BIN)/.installed $(SITE_ASSETS)
	$(BIN)/sentinel demo

# GitHub's official OpenAPI description and webhook schemas (npm, pinned in tools/schemas), which
# tests/test_github_schemas.py validates the GitHub emulator against.
SCHEMAS := tools/schemas/node_modules/.installed
$(SCHEMAS): tools/schemas/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix tools/schemas
	touch $@

# mypy --strict (pyproject [tool.mypy]) runs beside pytest: the suite spends much of its time
# waiting on servers and act runs, so the type check costs no wall time. Either failing fails.
# pytest runs on two workers (pytest-xdist); the act tests, which share one chain of act runs, stay
# together on one of them (xdist_group "act", tests/actions/conftest.py) while the other takes the rest.
# Leaflet (npm, pinned in planet_sentinel/site/assets): shipped inside the built site and the
# service's map page, never loaded from a CDN.
SITE_ASSETS := planet_sentinel/site/assets/node_modules/.installed
$(SITE_ASSETS): planet_sentinel/site/assets/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix planet_sentinel/site/assets
	touch $@

test: $(BIN)/.installed $(SCHEMAS) $(SITE_ASSETS)
	@$(BIN)/mypy --cache-dir $(VENV)/mypy-cache > $(VENV)/mypy.log 2>&1 & mypy=$$!; \
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup; status=$$?; \
	if ! wait $$mypy; then cat $(VENV)/mypy.log >&2; echo "make test: mypy --strict failed (above)" >&2; status=1; fi; \
	exit $$status

lint: $(BIN)/.installed lock-check
	$(BIN)/ruff check planet_sentinel tools tests
	$(BIN)/ruff format --check planet_sentinel tools tests
	$(BIN)/mypy --cache-dir $(VENV)/mypy-cache
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
