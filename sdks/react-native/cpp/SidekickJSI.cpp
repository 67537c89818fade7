// SidekickJSI.cpp — the JSI host object that converts JavaScript values into sidekick.h calls.
//
// Only value conversion lives here: the wire flag object becomes sk_flag builder calls (with the
// field path of the first value that cannot be converted), attribute values become strings as
// docs/contract.md says, and every decision is the C core's.

#include "SidekickJSI.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sidekick.h"

namespace jsi = facebook::jsi;

namespace sidekick {
namespace {

// Integral doubles below 2^53 are exact in both a JS number and an int64_t.
constexpr double kMaxExactInteger = 9007199254740992.0;

bool isIntegral(double number) {
  return std::isfinite(number) && std::trunc(number) == number &&
         std::fabs(number) < kMaxExactInteger;
}

// Owns one sk_store. Host functions hold it through a shared_ptr, so it lives as long as any of
// them is reachable from JavaScript; the destructor may run on a GC thread and touches no JS value.
class NativeStore {
public:
  NativeStore() : store_(sk_store_new(SK_STORE_SINGLE_THREADED)) {
    if (store_ == nullptr) {
      throw std::bad_alloc();
    }
  }
  ~NativeStore() {
    sk_store_free(store_);
  }
  NativeStore(const NativeStore &) = delete;
  NativeStore &operator=(const NativeStore &) = delete;

  sk_store *get() const {
    return store_;
  }

private:
  // Single-threaded mode: every call comes from the one JavaScript thread.
  sk_store *store_;
};

// Frees a flag that failed conversion before it reached the store.
struct FlagDeleter {
  void operator()(sk_flag *flag) const {
    sk_flag_free(flag);
  }
};
using FlagPtr = std::unique_ptr<sk_flag, FlagDeleter>;

[[noreturn]] void throwFieldError(jsi::Runtime &rt, const std::string &path,
                                  const std::string &message) {
  throw jsi::JSError(rt, path + ": " + message);
}

std::string statusMessage(int32_t status) {
  return std::string("rejected by the core (") + sk_status_name(status) + ")";
}

bool hasValue(const jsi::Value &value) {
  return !value.isUndefined();
}

bool readEnabled(jsi::Runtime &rt, const jsi::Object &flag) {
  jsi::Value value = flag.getProperty(rt, "is_enabled");
  if (!hasValue(value)) {
    return false; // the wire default: a new flag starts off
  }
  if (!value.isBool()) {
    throwFieldError(rt, "is_enabled", "must be a boolean");
  }
  return value.getBool();
}

int32_t readRollout(jsi::Runtime &rt, const jsi::Object &flag) {
  jsi::Value value = flag.getProperty(rt, "rollout_percentage");
  if (!hasValue(value) || value.isNull()) {
    return -1; // null means everyone
  }
  if (!value.isNumber() || !isIntegral(value.getNumber())) {
    throwFieldError(rt, "rollout_percentage", "must be an integer or null");
  }
  double number = value.getNumber();
  if (number < 0 || number > 100) {
    throwFieldError(rt, "rollout_percentage", "must be between 0 and 100");
  }
  return static_cast<int32_t>(number);
}

uint64_t readVersion(jsi::Runtime &rt, const jsi::Object &flag) {
  jsi::Value value = flag.getProperty(rt, "version");
  if (!hasValue(value) || value.isNull()) {
    return 0; // unversioned: always applies
  }
  if (!value.isNumber() || !isIntegral(value.getNumber()) || value.getNumber() < 0) {
    throwFieldError(rt, "version", "must be a non-negative integer");
  }
  return static_cast<uint64_t>(value.getNumber());
}

std::string readString(jsi::Runtime &rt, const jsi::Value &value, const std::string &path) {
  if (!value.isString()) {
    throwFieldError(rt, path, "must be a string");
  }
  return value.getString(rt).utf8(rt);
}

void addRule(jsi::Runtime &rt, sk_flag *flag, const jsi::Value &ruleValue,
             const std::string &path) {
  if (!ruleValue.isObject() || ruleValue.getObject(rt).isArray(rt) ||
      ruleValue.getObject(rt).isFunction(rt)) {
    throwFieldError(rt, path, "must be an object");
  }
  jsi::Object rule = ruleValue.getObject(rt);
  std::string attribute = readString(rt, rule.getProperty(rt, "attribute"), path + ".attribute");
  std::string operatorName = readString(rt, rule.getProperty(rt, "operator"), path + ".operator");
  int32_t op = sk_operator_parse(operatorName.data(), operatorName.size());
  if (op < 0) {
    throwFieldError(rt, path + ".operator",
                    "must be one of Equals, NotEquals, Contains, StartsWith, EndsWith");
  }
  jsi::Value valuesValue = rule.getProperty(rt, "values");
  if (!valuesValue.isObject() || !valuesValue.getObject(rt).isArray(rt)) {
    throwFieldError(rt, path + ".values", "must be a list of strings");
  }
  int32_t status = sk_flag_add_rule(flag, attribute.data(), attribute.size(), op);
  if (status == SK_ERR_BAD_ATTRIBUTE) {
    throwFieldError(rt, path + ".attribute", "must not be empty");
  }
  if (status == SK_ERR_TOO_MANY_RULES) {
    throwFieldError(rt, "rules", "at most " + std::to_string(SK_MAX_RULES) + " rules");
  }
  if (status != SK_OK) {
    throwFieldError(rt, path, statusMessage(status));
  }
  jsi::Array values = valuesValue.getObject(rt).getArray(rt);
  size_t count = values.size(rt);
  for (size_t index = 0; index < count; ++index) {
    std::string valuePath = path + ".values[" + std::to_string(index) + "]";
    std::string text = readString(rt, values.getValueAtIndex(rt, index), valuePath);
    status = sk_flag_add_value(flag, text.data(), text.size());
    if (status == SK_ERR_TOO_MANY_VALUES) {
      throwFieldError(rt, path + ".values",
                      "at most " + std::to_string(SK_MAX_VALUES_PER_RULE) + " values");
    }
    if (status != SK_OK) {
      throwFieldError(rt, valuePath, statusMessage(status));
    }
  }
}

// Converts a wire flag object (unknown fields ignored) into a new sk_flag the caller owns.
FlagPtr buildFlag(jsi::Runtime &rt, const jsi::Value &flagValue) {
  if (!flagValue.isObject()) {
    throw jsi::JSError(rt, "flag: must be an object");
  }
  jsi::Object wire = flagValue.getObject(rt);
  std::string key = readString(rt, wire.getProperty(rt, "key"), "key");
  bool enabled = readEnabled(rt, wire);
  int32_t rollout = readRollout(rt, wire);
  uint64_t version = readVersion(rt, wire);

  sk_flag *raw = nullptr;
  int32_t status = sk_flag_new(key.data(), key.size(), enabled, rollout, version, &raw);
  if (status == SK_ERR_BAD_KEY) {
    throwFieldError(rt, "key",
                    "must be 1-100 characters of A-Z a-z 0-9 _ - . starting with a "
                    "letter or digit");
  }
  if (status != SK_OK) {
    throwFieldError(rt, "flag", statusMessage(status));
  }
  FlagPtr flag(raw);

  jsi::Value rulesValue = wire.getProperty(rt, "rules");
  if (hasValue(rulesValue)) {
    if (!rulesValue.isObject() || !rulesValue.getObject(rt).isArray(rt)) {
      throwFieldError(rt, "rules", "must be a list");
    }
    jsi::Array rules = rulesValue.getObject(rt).getArray(rt);
    size_t count = rules.size(rt);
    for (size_t index = 0; index < count; ++index) {
      addRule(rt, flag.get(), rules.getValueAtIndex(rt, index),
              "rules[" + std::to_string(index) + "]");
    }
  }
  return flag;
}

// Attribute names and converted values; sk_attribute points into these strings, so they must
// outlive the evaluation call.
struct Attributes {
  std::vector<std::string> text;
  std::vector<sk_attribute> items;
};

// Strings pass as they are, booleans as "true"/"false", integral numbers in decimal; any other
// value is dropped so that it never matches.
Attributes convertAttributes(jsi::Runtime &rt, const jsi::Value *args, size_t count, size_t index) {
  Attributes converted;
  if (index >= count || !args[index].isObject()) {
    return converted;
  }
  jsi::Object object = args[index].getObject(rt);
  jsi::Array names = object.getPropertyNames(rt);
  size_t total = names.size(rt);
  converted.text.reserve(total * 2);
  for (size_t i = 0; i < total; ++i) {
    jsi::Value nameValue = names.getValueAtIndex(rt, i);
    if (!nameValue.isString()) {
      continue;
    }
    jsi::String name = nameValue.getString(rt);
    jsi::Value value = object.getProperty(rt, name);
    std::string text;
    if (value.isString()) {
      text = value.getString(rt).utf8(rt);
    } else if (value.isBool()) {
      text = value.getBool() ? "true" : "false";
    } else if (value.isNumber() && isIntegral(value.getNumber())) {
      text = std::to_string(static_cast<long long>(value.getNumber()));
    } else {
      continue;
    }
    converted.text.push_back(name.utf8(rt));
    converted.text.push_back(std::move(text));
  }
  converted.items.reserve(converted.text.size() / 2);
  for (size_t i = 0; i + 1 < converted.text.size(); i += 2) {
    const std::string &name = converted.text[i];
    const std::string &value = converted.text[i + 1];
    converted.items.push_back(sk_attribute{name.data(), name.size(), value.data(), value.size()});
  }
  return converted;
}

std::string stringArgument(jsi::Runtime &rt, const jsi::Value *args, size_t count, size_t index,
                           const char *name) {
  if (index >= count || !args[index].isString()) {
    throw jsi::JSError(rt, std::string(name) + ": must be a string");
  }
  return args[index].getString(rt).utf8(rt);
}

jsi::Value evaluationObject(jsi::Runtime &rt, const sk_evaluation &evaluation) {
  jsi::Object result(rt);
  result.setProperty(rt, "enabled", evaluation.enabled != 0);
  result.setProperty(rt, "reason",
                     jsi::String::createFromAscii(rt, sk_reason_name(evaluation.reason)));
  result.setProperty(rt, "ruleIndex",
                     evaluation.rule_index < 0 ? jsi::Value::null()
                                               : jsi::Value(evaluation.rule_index));
  result.setProperty(rt, "bucket",
                     evaluation.bucket < 0 ? jsi::Value::null() : jsi::Value(evaluation.bucket));
  result.setProperty(rt, "version",
                     evaluation.reason == SK_REASON_FLAG_NOT_FOUND
                         ? jsi::Value::null()
                         : jsi::Value(static_cast<double>(evaluation.version)));
  return result;
}

class StoreHostObject : public jsi::HostObject {
public:
  StoreHostObject() : store_(std::make_shared<NativeStore>()) {}

  jsi::Value get(jsi::Runtime &rt, const jsi::PropNameID &propName) override {
    std::string name = propName.utf8(rt);
    std::shared_ptr<NativeStore> store = store_;
    if (name == "upsert") {
      // upsert(flag) -> true when applied, false when stale; throws "<field path>: ..."
      return function(rt, propName, 1,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        if (count == 0) {
                          throw jsi::JSError(rt, "flag: must be an object");
                        }
                        FlagPtr flag = buildFlag(rt, args[0]);
                        // The store takes the flag whatever the outcome.
                        int32_t status = sk_store_upsert(store->get(), flag.release());
                        if (status < 0) {
                          throw jsi::JSError(rt, "upsert: " + statusMessage(status));
                        }
                        return jsi::Value(status == SK_OK);
                      });
    }
    if (name == "remove") {
      // remove(key, version = 0) -> true when a flag was removed
      return function(rt, propName, 2,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        std::string key = stringArgument(rt, args, count, 0, "key");
                        uint64_t version = 0;
                        if (count > 1 && !args[1].isUndefined()) {
                          // A bad version must not turn into an unconditional delete.
                          if (!args[1].isNumber() || !isIntegral(args[1].getNumber()) ||
                              args[1].getNumber() < 0) {
                            throw jsi::JSError(rt, "version: must be a non-negative integer");
                          }
                          version = static_cast<uint64_t>(args[1].getNumber());
                        }
                        int32_t status =
                            sk_store_remove(store->get(), key.data(), key.size(), version);
                        if (status < 0 && status != SK_ERR_NOT_FOUND) {
                          throw jsi::JSError(rt, "remove: " + statusMessage(status));
                        }
                        return jsi::Value(status == SK_OK);
                      });
    }
    if (name == "clear") {
      return function(
          rt, propName, 0,
          [store](jsi::Runtime &, const jsi::Value &, const jsi::Value *, size_t) -> jsi::Value {
            sk_store_clear(store->get());
            return jsi::Value::undefined();
          });
    }
    if (name == "size") {
      return function(
          rt, propName, 0,
          [store](jsi::Runtime &, const jsi::Value &, const jsi::Value *, size_t) -> jsi::Value {
            return jsi::Value(static_cast<double>(sk_store_count(store->get())));
          });
    }
    if (name == "version") {
      // version(key) -> the stored version, 0 when absent or unversioned
      return function(rt, propName, 1,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        std::string key = stringArgument(rt, args, count, 0, "key");
                        return jsi::Value(static_cast<double>(
                            sk_store_version(store->get(), key.data(), key.size())));
                      });
    }
    if (name == "isEnabled") {
      // isEnabled(flagKey, userKey, attributes?) -> boolean; false for anything unusable
      return function(rt, propName, 3,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        if (count < 2 || !args[0].isString() || !args[1].isString()) {
                          return jsi::Value(false);
                        }
                        std::string flagKey = args[0].getString(rt).utf8(rt);
                        std::string userKey = args[1].getString(rt).utf8(rt);
                        Attributes attributes = convertAttributes(rt, args, count, 2);
                        int32_t enabled = sk_store_is_enabled(
                            store->get(), flagKey.data(), flagKey.size(), userKey.data(),
                            userKey.size(), attributes.items.data(), attributes.items.size());
                        return jsi::Value(enabled != 0);
                      });
    }
    if (name == "evaluate") {
      // evaluate(flagKey, userKey, attributes?) -> {enabled, reason, ruleIndex, bucket, version}
      return function(rt, propName, 3,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        std::string flagKey = stringArgument(rt, args, count, 0, "flagKey");
                        std::string userKey = stringArgument(rt, args, count, 1, "userKey");
                        Attributes attributes = convertAttributes(rt, args, count, 2);
                        sk_evaluation evaluation{};
                        sk_store_evaluate(store->get(), flagKey.data(), flagKey.size(),
                                          userKey.data(), userKey.size(), attributes.items.data(),
                                          attributes.items.size(), &evaluation);
                        return evaluationObject(rt, evaluation);
                      });
    }
    return jsi::Value::undefined();
  }

  std::vector<jsi::PropNameID> getPropertyNames(jsi::Runtime &rt) override {
    std::vector<jsi::PropNameID> names;
    for (const char *name :
         {"upsert", "remove", "clear", "size", "version", "isEnabled", "evaluate"}) {
      names.push_back(jsi::PropNameID::forAscii(rt, name));
    }
    return names;
  }

private:
  static jsi::Value function(jsi::Runtime &rt, const jsi::PropNameID &name, unsigned int arity,
                             jsi::HostFunctionType body) {
    return jsi::Function::createFromHostFunction(rt, name, arity, std::move(body));
  }

  std::shared_ptr<NativeStore> store_;
};

} // namespace
} // namespace sidekick

void installSidekickJSI(jsi::Runtime &runtime) {
  // A JavaScript bundle built against another header would misread the core's answers.
  if (sk_abi_version() != SK_ABI_VERSION) {
    throw std::runtime_error("libsidekick ABI " + std::to_string(sk_abi_version()) +
                             " does not match sidekick.h ABI " + std::to_string(SK_ABI_VERSION));
  }
  jsi::Object module(runtime);
  module.setProperty(runtime, "abiVersion", static_cast<double>(sk_abi_version()));
  module.setProperty(
      runtime, "createStore",
      jsi::Function::createFromHostFunction(
          runtime, jsi::PropNameID::forAscii(runtime, "createStore"), 0,
          [](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *, size_t) -> jsi::Value {
            return jsi::Object::createFromHostObject(rt,
                                                     std::make_shared<sidekick::StoreHostObject>());
          }));
  runtime.global().setProperty(runtime, "__SidekickJSI", std::move(module));
}
