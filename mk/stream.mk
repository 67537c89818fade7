# The stream: the propagation benchmark and its measuring client (the stream's tests run under
# test-python with the rest of tests/). The client is compiled by `make test` too, so that it
# cannot rot between benchmark runs.

BENCH_TARGETS += bench-propagation
TEST_TARGETS += build-receipt-client

RECEIPT_CLIENT := build/bench/sse_receipts

.PHONY: bench-propagation build-receipt-client

$(RECEIPT_CLIENT): benchmarks/c/sse_receipts.c
	@mkdir -p $(@D)
	gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror $< -o $@

build-receipt-client: $(RECEIPT_CLIENT)

bench-propagation: $(PY_STAMP) $(RECEIPT_CLIENT)
	$(PY) -m benchmarks.propagation
