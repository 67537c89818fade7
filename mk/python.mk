# Python: ruff, mypy and the import contracts (pyproject's [tool.importlinter]) over the server
# and the Python SDK, then pytest over tests/
# (tests/mobile needs the native library built first: test-mobile runs it).

LINT_TARGETS += lint-python
TEST_TARGETS += test-python

PY_LINT_PATHS := sidekick flags streaming evalcore sdks/python tests benchmarks manage.py setup.py

.PHONY: lint-python test-python

lint-python: $(PY_STAMP)
	$(PY) -m ruff check $(PY_LINT_PATHS)
	$(PY) -m ruff format --check $(PY_LINT_PATHS)
	$(PY) -m mypy sidekick flags streaming evalcore sdks/python/sidekick_sdk
	PYTHONPATH=sdks/python $(VENV)/bin/lint-imports --no-cache

test-python: $(PY_STAMP)
	$(PYTEST) tests --ignore=tests/mobile
