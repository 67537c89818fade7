// SidekickJSI.h — installs the Sidekick evaluation core into a React Native JavaScript runtime.
#pragma once

#include <jsi/jsi.h>

// Defines the global `__SidekickJSI` in runtime: `{ abiVersion, createStore() }`. Each store is a
// jsi::HostObject over one sk_store whose methods (upsert, remove, clear, size, version,
// isEnabled, evaluate) run synchronously on the JavaScript thread. Call it once per runtime, on the
// JavaScript thread, before the JavaScript bundle touches the client (see README.md).
void installSidekickJSI(facebook::jsi::Runtime &runtime);
