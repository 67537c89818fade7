# Browser SDK: the C core compiled to wasm32 (clang + lld + wasi-libc), the TypeScript glue, and
# their tests in Node's WebAssembly and in headless Chromium against a real server.

TEST_TARGETS += test-browser
LINT_TARGETS += lint-browser
BENCH_TARGETS += bench-browser

BROWSER_DIR := sdks/browser
BROWSER_DIST := $(BROWSER_DIR)/dist
BROWSER_WASM := $(BROWSER_DIST)/sidekick.wasm
BROWSER_GLUE := $(BROWSER_DIST)/index.js
BROWSER_NPM := $(BROWSER_DIR)/node_modules/.package-lock.json
BROWSER_BENCH_DIR := benchmarks/browser
BROWSER_BENCH_NPM := $(BROWSER_BENCH_DIR)/node_modules/.package-lock.json
BROWSER_VENDOR := $(BROWSER_DIR)/src/vendor/.stamp

# The compiler flags live in the package's build script, which its npm `prepare` also runs.
WASM_CC ?= clang
WASM_SOURCES := $(wildcard evalcore/src/*.c) $(BROWSER_DIR)/src/wasm_memory.c

.PHONY: build-browser test-browser lint-browser bench-browser

$(BROWSER_WASM): $(WASM_SOURCES) $(wildcard evalcore/src/*.h) evalcore/include/sidekick.h \
		$(BROWSER_DIR)/scripts/build-wasm.mjs
	@scripts/install-system-deps.sh wasm
	WASM_CC=$(WASM_CC) node $(BROWSER_DIR)/scripts/build-wasm.mjs

# Scripts off: make builds the wasm and the glue itself (the package's `prepare` is for npm users).
$(BROWSER_NPM): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# The stream code shared with the Node and React Native packages (sdks/shared-ts), copied in.
$(BROWSER_VENDOR): $(wildcard sdks/shared-ts/src/*.ts) sdks/shared-ts/vendor.mjs
	node sdks/shared-ts/vendor.mjs $(BROWSER_DIR)
	@touch $@

$(BROWSER_GLUE): $(BROWSER_NPM) $(BROWSER_VENDOR) $(wildcard $(BROWSER_DIR)/src/*.ts) $(BROWSER_DIR)/tsconfig.json $(BROWSER_DIR)/tsconfig.types.json
	cd $(BROWSER_DIR) && rm -rf dist/*.js dist/*.d.ts dist/vendor && node_modules/.bin/tsc -p . && node_modules/.bin/tsc -p tsconfig.types.json

build-browser: $(BROWSER_WASM) $(BROWSER_GLUE)

lint-browser: $(BROWSER_NPM) $(BROWSER_VENDOR)
	cd $(BROWSER_DIR) && node_modules/.bin/tsc -p . --noEmit
	clang-format --dry-run --Werror $(BROWSER_DIR)/src/wasm_memory.c

# Chromium tests need the e2e server harness and its virtualenv.
test-browser: build-browser $(PY_STAMP)
	@scripts/install-system-deps.sh browser
	cd $(BROWSER_DIR) && node --test --test-concurrency=1 --test-timeout=240000 test/*.test.mjs

$(BROWSER_BENCH_NPM): $(BROWSER_BENCH_DIR)/package.json $(BROWSER_BENCH_DIR)/package-lock.json
	cd $(BROWSER_BENCH_DIR) && npm ci --no-audit --no-fund --loglevel=error

bench-browser: build-browser $(BROWSER_BENCH_NPM) $(BROWSER_NPM)
	@scripts/install-system-deps.sh browser
	node $(BROWSER_BENCH_DIR)/run.mjs
