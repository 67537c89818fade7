# Python evaluation benchmark: evalcore (compiled and pure-Python) against the call floor and the
# Python flag SDKs, and the OpenFeature providers (ours and the peers') against their SDKs' bare
# calls, all in their own virtualenv so the peers never enter the project's.

BENCH_TARGETS += bench-python

PEERS_VENV := benchmarks/.venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

.PHONY: bench-python

$(PEERS_STAMP): benchmarks/requirements-python-peers.txt pyproject.toml setup.py $(CORE_SOURCES) \
		$(wildcard evalcore/*.py) sdks/python/pyproject.toml $(wildcard sdks/python/sidekick_sdk/*.py)
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-python-peers.txt
	$(PEERS_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	$(PEERS_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall ./sdks/python
	@touch $@

bench-python: $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python benchmarks/eval_python.py
	$(PEERS_VENV)/bin/python benchmarks/openfeature_python.py
	$(PEERS_VENV)/bin/python benchmarks/unleash_compat.py
	SIDEKICK_NO_EXTENSIONS=1 $(PEERS_VENV)/bin/python benchmarks/unleash_compat.py
