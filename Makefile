# freshness — the two quickstart commands are `make run` and `make test`.
# uv is used from PATH when present, otherwise bootstrapped into ./.tools.

PYTHON ?= python3
# uv uses this interpreter and never downloads one (nothing written outside the
# repository and the user's caches).
export UV_PYTHON ?= $(PYTHON)
export UV_PYTHON_DOWNLOADS ?= never
# Compile bytecode at install time: where PYTHONDONTWRITEBYTECODE=1 is set, every
# CLI start would otherwise recompile every imported module (2-5 s before any work).
export UV_COMPILE_BYTECODE ?= 1
HOST ?= 127.0.0.1
PORT ?= 8000
UV ?= $(shell command -v uv 2>/dev/null)
ifeq ($(strip $(UV)),)
UV := .tools/bin/uv
endif

.PHONY: help install install-dev init run test bench clean

help:
	@echo "make run    install, create/upgrade the database, serve on http://$(HOST):$(PORT)"
	@echo "make test   install the test dependencies and run the whole test suite"
	@echo "make bench  run the benchmarks (prints side-by-side ratios)"

.tools/bin/uv:
	$(PYTHON) scripts/bootstrap_uv.py .tools

install: $(UV)
	$(UV) sync --locked --no-dev
	$(UV) run --no-sync python -m compileall -q freshness

install-dev: $(UV)
	$(UV) sync --locked
	$(UV) run --no-sync python -m compileall -q freshness

init: install
	$(UV) run --no-sync freshness init

run: init
	$(UV) run --no-sync freshness serve --host $(HOST) --port $(PORT)

test: install-dev
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

bench: install-dev
	$(UV) run --no-sync python benchmarks/checkin_speed.py
	$(UV) run --no-sync python benchmarks/cli_start.py
	$(UV) run --no-sync python benchmarks/detect_fallback.py
	$(UV) run --no-sync python benchmarks/identity_guard.py
	$(UV) run --no-sync python benchmarks/drift_timelines.py
	$(UV) run --no-sync python benchmarks/import_throughput.py

clean:
	rm -rf .tools .venv .pytest_cache .hypothesis
