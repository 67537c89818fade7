# Node SDK (sdks/node): the Node-API addon over evalcore/src, its TypeScript, tests and benchmark.

LINT_TARGETS += lint-node
TEST_TARGETS += test-node
BENCH_TARGETS += bench-node

NODE_DIR := sdks/node
NODE_MODULES := $(NODE_DIR)/node_modules/.package-lock.json
NODE_ADDON := $(NODE_DIR)/build/sidekick.node
NODE_BENCH_MODULES := benchmarks/node/node_modules/.package-lock.json
NODE_VENDOR := $(NODE_DIR)/src/vendor/.stamp
SHARED_TS_SOURCES := $(wildcard sdks/shared-ts/src/*.ts) sdks/shared-ts/vendor.mjs

.PHONY: lint-node test-node bench-node node-build

# Scripts off: make builds the addon and the TypeScript itself (`prepare`/`install` are for npm users).
$(NODE_MODULES): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

$(NODE_ADDON): $(NODE_DIR)/src/addon.c $(NODE_DIR)/scripts/build-addon.mjs $(CORE_SOURCES)
	cd $(NODE_DIR) && node scripts/build-addon.mjs

# The stream code shared with the browser and React Native packages (sdks/shared-ts), copied in.
$(NODE_VENDOR): $(SHARED_TS_SOURCES)
	node sdks/shared-ts/vendor.mjs $(NODE_DIR)
	@touch $@

node-build: $(NODE_MODULES) $(NODE_ADDON) $(NODE_VENDOR)
	cd $(NODE_DIR) && node_modules/.bin/tsc -p tsconfig.json

lint-node: $(NODE_MODULES) $(NODE_VENDOR)
	cd $(NODE_DIR) && node_modules/.bin/tsc -p tsconfig.json --noEmit
	clang-format --dry-run --Werror $(NODE_DIR)/src/*.c

# The end-to-end tests start real servers through the project's virtualenv.
test-node: node-build $(PY_STAMP)
	cd $(NODE_DIR) && node --test --test-concurrency=1 --test-reporter=spec dist/test/

$(NODE_BENCH_MODULES): benchmarks/node/package.json benchmarks/node/package-lock.json
	cd benchmarks/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The wasm row needs the browser build of the same core; build-browser comes from mk/browser.mk.
bench-node: node-build build-browser $(NODE_BENCH_MODULES)
	node --expose-gc benchmarks/node/bench.mjs
