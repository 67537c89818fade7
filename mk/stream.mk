# The stream: the propagation benchmark (its tests run under test-python with the rest of tests/).

BENCH_TARGETS += bench-propagation

.PHONY: bench-propagation

bench-propagation: $(PY_STAMP)
	$(PY) -m benchmarks.propagation
