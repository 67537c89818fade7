# Mobile (React Native JSI, Flutter dart:ffi): libsidekick built by CMake and tested through the
# Dart declarations from ctypes, the ABI-signature check, the JSI glue compiled and linked against
# the real JSI headers with g++ and clang++, the Android CMake file configured on the desktop, and
# the TypeScript type-checked (and its SSE parser run under node --test).

LINT_TARGETS += lint-mobile
TEST_TARGETS += test-mobile

MOBILE_BUILD := build/mobile
# Pinned: the `latest` tag of react-native points at a stray 1000.0.0.
RN_VERSION := 0.88.1
RN_TARBALL := $(MOBILE_BUILD)/react-native-$(RN_VERSION).tgz
RN_EXTRACT := $(MOBILE_BUILD)/react-native-$(RN_VERSION)
JSI_DIR := $(RN_EXTRACT)/package/ReactCommon/jsi
JSI_STAMP := $(RN_EXTRACT)/.extracted
RN_DIR := sdks/react-native
RN_TSC := $(RN_DIR)/node_modules/.bin/tsc
JSI_OUT := $(MOBILE_BUILD)/jsi
MOBILE_CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -fPIC -I$(JSI_DIR) -Ievalcore/include -I$(RN_DIR)/cpp
# jni.h for a syntax check of the Android JNI adapter, when a JDK is installed.
JNI_H := $(firstword $(wildcard /usr/lib/jvm/*/include/jni.h))
MOBILE_CPP := $(RN_DIR)/cpp/SidekickJSI.cpp $(RN_DIR)/cpp/SidekickJSI.h $(RN_DIR)/android/cpp-adapter.cpp \
	$(RN_DIR)/ios/SidekickModule.h $(RN_DIR)/ios/SidekickModule.mm tests/mobile/fixtures/mismatched_jsi.cpp

.PHONY: lint-mobile test-mobile mobile-lib mobile-jsi mobile-android-cmake mobile-ts

# The stream code shared with the Node and browser packages (sdks/shared-ts), copied in.
RN_VENDOR := $(RN_DIR)/src/vendor/.stamp
$(RN_VENDOR): $(wildcard sdks/shared-ts/src/*.ts) sdks/shared-ts/vendor.mjs
	node sdks/shared-ts/vendor.mjs $(RN_DIR)
	@touch $@

lint-mobile: $(RN_TSC) $(RN_VENDOR) $(PY_STAMP)
	$(PY) -m tests.mobile.abi_check
	clang-format --dry-run --Werror $(MOBILE_CPP) $(wildcard $(RN_DIR)/ios/core/*.c sdks/flutter/ios/Classes/*.c)
	cd $(RN_DIR) && ./node_modules/.bin/tsc -p tsconfig.json --noEmit

test-mobile: mobile-lib mobile-jsi mobile-android-cmake mobile-ts $(PY_STAMP)
	$(PYTEST) -q -p no:cacheprovider tests/mobile

mobile-lib:
	cmake -S evalcore -B $(MOBILE_BUILD)/lib -DSIDEKICK_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(MOBILE_BUILD)/lib --parallel

# Downloaded once and kept under build/ so that a rerun works offline.
$(RN_TARBALL):
	@mkdir -p $(MOBILE_BUILD)
	cd $(MOBILE_BUILD) && npm pack --silent react-native@$(RN_VERSION) >/dev/null

$(JSI_STAMP): $(RN_TARBALL)
	@mkdir -p $(RN_EXTRACT)
	tar -xzf $(RN_TARBALL) -C $(RN_EXTRACT) package/ReactCommon/jsi
	@touch $@

# The host object compiles with both compilers, warnings as errors, and links into a shared object
# with jsi.cpp and libsidekick with no undefined symbol left.
mobile-jsi: $(JSI_STAMP) mobile-lib
	@mkdir -p $(JSI_OUT)
	set -e; for cxx in g++ clang++; do \
	  $$cxx $(MOBILE_CXXFLAGS) -c $(RN_DIR)/cpp/SidekickJSI.cpp -o $(JSI_OUT)/SidekickJSI.$$cxx.o; \
	  $$cxx $(MOBILE_CXXFLAGS) -c $(JSI_DIR)/jsi/jsi.cpp -o $(JSI_OUT)/jsi.$$cxx.o; \
	  $$cxx -shared -Wl,--no-undefined -o $(JSI_OUT)/libsidekick-jsi.$$cxx.so \
	    $(JSI_OUT)/SidekickJSI.$$cxx.o $(JSI_OUT)/jsi.$$cxx.o \
	    -L$(MOBILE_BUILD)/lib -lsidekick -Wl,-rpath,$(abspath $(MOBILE_BUILD)/lib); \
	  nm -DC --defined-only $(JSI_OUT)/libsidekick-jsi.$$cxx.so | grep -q 'installSidekickJSI(facebook::jsi::Runtime&)'; \
	done
ifneq ($(JNI_H),)
	set -e; for cxx in g++ clang++; do \
	  $$cxx $(MOBILE_CXXFLAGS) -fsyntax-only -I$(dir $(JNI_H)) -I$(dir $(JNI_H))linux $(RN_DIR)/android/cpp-adapter.cpp; \
	done
else
	@echo "mobile-jsi: no JDK (jni.h), the Android JNI adapter was not compiled"
endif

# The Android CMake file itself, configured for the desktop: the core added as a subdirectory,
# linked statically into the JSI library.
mobile-android-cmake: $(JSI_STAMP)
	cmake -S $(RN_DIR)/android -B $(MOBILE_BUILD)/rn-android-host -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_COMPILER=clang -DSIDEKICK_JSI_DIR=$(abspath $(JSI_DIR)) -DSIDEKICK_RN_WERROR=ON >/dev/null
	cmake --build $(MOBILE_BUILD)/rn-android-host --parallel

$(RN_TSC): $(RN_DIR)/package.json $(RN_DIR)/package-lock.json
	cd $(RN_DIR) && npm ci --no-audit --no-fund --silent
	@touch $@

# Type-checks, then compiles to CommonJS under build/ so node --test can run the SSE parser and
# the stream vectors.
mobile-ts: $(RN_TSC) $(RN_VENDOR)
	cd $(RN_DIR) && ./node_modules/.bin/tsc -p tsconfig.json --noEmit
	$(RN_TSC) -p $(RN_DIR)/tsconfig.json --outDir $(MOBILE_BUILD)/rn-ts --module commonjs \
	  --moduleResolution node10 --declaration false
	SIDEKICK_RN_COMPILED=$(abspath $(MOBILE_BUILD)/rn-ts) node --test $(RN_DIR)/test/
