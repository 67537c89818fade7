# Sidekick: `make run` serves the control plane, `make test` runs everything CI runs.
# Each area adds its own targets in mk/*.mk (C core, Python, Node, browser, mobile).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
# Rebuilt when the project's Python metadata or the compiled core's sources change.
PY_STAMP := $(VENV)/.installed
CORE_SOURCES := $(wildcard evalcore/include/*.h evalcore/src/*.c evalcore/src/*.h evalcore/*.pyx evalcore/*.pxd) streaming/_fanout.pyx

HOST ?= 127.0.0.1
PORT ?= 8000

TEST_TARGETS :=
BENCH_TARGETS :=
LINT_TARGETS :=

.PHONY: help run test bench lint clean system-deps python-deps

help:
	@echo "make run    - install, migrate, serve the dashboard and API on http://$(HOST):$(PORT)"
	@echo "make test   - lint, type-check and run every test suite"
	@echo "make bench  - run every benchmark and print the tables"
	@echo "make lint   - linters and type checkers only"
	@echo "make image  - build the container image with buildah (not in make test; mk/ops.mk)"
	@echo "make image-test - run the built image in a chroot against local PostgreSQL and Redis"
	@echo "make clean  - remove builds, the virtualenv and local state"

system-deps:
	@scripts/install-system-deps.sh

$(PY_STAMP): pyproject.toml setup.py $(CORE_SOURCES)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

python-deps: $(PY_STAMP)

run:
	@scripts/install-system-deps.sh build
	@$(MAKE) --no-print-directory $(PY_STAMP)
	@mkdir -p var
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap_dev --url http://$(HOST):$(PORT)
	$(PY) -m sidekick.server -e tcp:port=$(PORT):interface=$(HOST):backlog=4096 sidekick.asgi:application

include $(sort $(wildcard mk/*.mk))

lint: $(LINT_TARGETS)

test: system-deps lint $(TEST_TARGETS)

bench: system-deps $(BENCH_TARGETS)

clean:
	rm -rf $(VENV) build dist var *.egg-info evalcore/*.so evalcore/_core.c .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	$(foreach dir,$(wildcard sdks/*/),rm -rf $(dir)node_modules $(dir)dist $(dir)build;)
