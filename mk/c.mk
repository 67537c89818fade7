# C core: clang-format check, sanitizer builds of the C tests (gcc and clang), a ThreadSanitizer
# run of the concurrency test, and compile checks for wasm32 and C++ consumers of the header.

LINT_TARGETS += lint-c
TEST_TARGETS += test-c
BENCH_TARGETS += bench-c

C_BUILD := build/c
C_SRC := $(wildcard evalcore/src/*.c)
C_HDR := $(wildcard evalcore/include/*.h evalcore/src/*.h)
C_TEST_HDR := $(wildcard evalcore/tests/*.h)
C_STD_FLAGS := -std=c11 -Wall -Wextra -Wpedantic -Werror -Ievalcore/include
C_SAN_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# Every C/C++ source the project owns (git-ignored output such as Cython's C is skipped): the
# core, its benchmark, and native glue under sdks/.
C_FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard -- evalcore benchmarks/c sdks \
	| grep -E '\.(c|h|cc|cpp|hpp)$$')

.PHONY: lint-c test-c bench-c

lint-c:
	clang-format --dry-run --Werror $(C_FORMAT_FILES)

$(C_BUILD):
	@mkdir -p $@

$(C_BUILD)/test_core_gcc: evalcore/tests/test_core.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) $(C_SAN_FLAGS) $(C_SRC) $< -o $@

$(C_BUILD)/test_core_clang: evalcore/tests/test_core.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	clang $(C_STD_FLAGS) -O2 -g -fsanitize=undefined -fno-sanitize-recover=all $(C_SRC) $< -o $@

$(C_BUILD)/test_nomem: evalcore/tests/test_nomem.c evalcore/tests/alloc_fault.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) -Ievalcore/tests $(C_SAN_FLAGS) -c evalcore/tests/alloc_fault.c -o $@_alloc.o
	gcc $(C_STD_FLAGS) -Ievalcore/tests $(C_SAN_FLAGS) -include alloc_fault.h \
		$(C_SRC) evalcore/tests/test_nomem.c $@_alloc.o -o $@

$(C_BUILD)/test_threads_gcc: evalcore/tests/test_threads.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) $(C_SAN_FLAGS) -pthread $(C_SRC) $< -o $@

$(C_BUILD)/test_threads_clang: evalcore/tests/test_threads.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	clang $(C_STD_FLAGS) -O2 -g -pthread $(C_SRC) $< -o $@

$(C_BUILD)/test_threads_tsan: evalcore/tests/test_threads.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	clang $(C_STD_FLAGS) -g -O1 -fsanitize=thread -pthread $(C_SRC) $< -o $@

$(C_BUILD)/fuzz_store_gcc: evalcore/tests/fuzz_store.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) $(C_SAN_FLAGS) $(C_SRC) $< -o $@

# The same with the text matchers' full rows cut to the root's, so that Contains runs on its
# failure links (the default rows cover every state of the fuzzer's small rules).
$(C_BUILD)/fuzz_store_sparse_gcc: evalcore/tests/fuzz_store.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) $(C_SAN_FLAGS) -DSK_TEXT_MATCHER_DENSE_BASE_CELLS=0 \
		-DSK_TEXT_MATCHER_DENSE_CELLS_PER_BYTE=0 $(C_SRC) $< -o $@

# The same differential fuzzer driven by libFuzzer's coverage feedback (a fixed seed and run
# count keep it deterministic and a few seconds long; crashing inputs land in build/c/).
$(C_BUILD)/fuzz_store_libfuzzer: evalcore/tests/fuzz_store.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	clang $(C_STD_FLAGS) -DSK_LIBFUZZER -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $(C_SRC) $< -o $@

# The browser build's flags: the sources must compile for wasm32 unchanged.
$(C_BUILD)/core.wasm: $(C_SRC) $(C_HDR) | $(C_BUILD)
	clang --target=wasm32-wasi -std=c11 -Oz -mexec-model=reactor -D_POSIX_C_SOURCE=200809L \
		-Wall -Wextra -Wpedantic -Werror -Ievalcore/include $(C_SRC) -o $@

# The tests themselves as wasm32 programs (32-bit size_t, the browser's compiler and libc), run by
# Node's built-in WASI support.
$(C_BUILD)/%.wasm: evalcore/tests/%.c $(C_SRC) $(C_HDR) $(C_TEST_HDR) | $(C_BUILD)
	clang --target=wasm32-wasi -std=c11 -O2 -D_POSIX_C_SOURCE=200809L \
		-Wall -Wextra -Wpedantic -Werror -Ievalcore/include $(C_SRC) $< -o $@

C_WASI_RUN := node --no-warnings --input-type=module -e "import {readFileSync} from 'node:fs'; \
	import {WASI} from 'node:wasi'; const wasi = new WASI({version: 'preview1', args: ['test']}); \
	const m = await WebAssembly.compile(readFileSync(process.argv[1])); \
	process.exitCode = wasi.start(await WebAssembly.instantiate(m, wasi.getImportObject()));"

# C++ hosts (Node-API, JSI) include the header directly.
$(C_BUILD)/header-cxx.stamp: evalcore/include/sidekick.h | $(C_BUILD)
	g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ $<
	clang++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ $<
	@touch $@

C_TEST_BINARIES := $(addprefix $(C_BUILD)/,test_core_gcc test_core_clang test_threads_gcc test_threads_clang \
	test_threads_tsan fuzz_store_gcc fuzz_store_sparse_gcc)
ifneq ($(wildcard evalcore/tests/test_nomem.c),)
C_TEST_BINARIES += $(C_BUILD)/test_nomem
endif

C_WASI_TESTS := $(C_BUILD)/test_core.wasm $(C_BUILD)/fuzz_store.wasm

test-c: $(C_TEST_BINARIES) $(C_WASI_TESTS) $(C_BUILD)/fuzz_store_libfuzzer $(C_BUILD)/core.wasm \
		$(C_BUILD)/header-cxx.stamp
	@set -e; for test in $(C_TEST_BINARIES); do echo "$$test"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 TSAN_OPTIONS=halt_on_error=1 ./$$test; done
	@set -e; for test in $(C_WASI_TESTS); do echo "$$test (wasm32, node WASI)"; \
		$(C_WASI_RUN) $$test; done
	@echo "$(C_BUILD)/fuzz_store_libfuzzer"
	@$(C_BUILD)/fuzz_store_libfuzzer -runs=100000 -seed=1 -max_len=1024 \
		-artifact_prefix=$(C_BUILD)/ > $(C_BUILD)/fuzz_store.log 2>&1 \
		|| { tail -40 $(C_BUILD)/fuzz_store.log; exit 1; }
	@tail -1 $(C_BUILD)/fuzz_store.log

$(C_BUILD)/eval_bench: benchmarks/c/eval_bench.c $(C_SRC) $(C_HDR) | $(C_BUILD)
	gcc $(C_STD_FLAGS) -O2 -g -pthread $(C_SRC) $< -o $@

bench-c: $(C_BUILD)/eval_bench
	benchmarks/c/run.sh $(C_BUILD)/eval_bench
