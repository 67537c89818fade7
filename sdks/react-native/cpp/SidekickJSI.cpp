// SidekickJSI.cpp — the JSI host object that converts JavaScript values into sidekick.h calls.
//
// Only value conversion lives here: the wire flag object (version 2: typed flags) becomes sk_flag
// builder calls (with the field path of the first value that cannot be converted), attribute
// values become typed attributes as docs/contract.md says, and every decision is the C core's.
// Variant values stay in JavaScript (src/store.ts keeps them beside the store): evaluation
// answers with the served variant's index and the flag's type. Holding them here as jsi::Value
// would tie them to the runtime, and this store's destructor may run on a GC thread.

#include "SidekickJSI.h"

#include <algorithm>
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

// Builder calls the wire checks leave nothing to refuse; a refusal is out of memory or a bug.
void check(jsi::Runtime &rt, int32_t status, const std::string &path) {
  if (status != SK_OK) {
    throwFieldError(rt, path, statusMessage(status));
  }
}

bool hasValue(const jsi::Value &value) {
  return !value.isUndefined();
}

// A field that is absent, undefined or null (the wire's "not given").
bool isMissing(const jsi::Value &value) {
  return value.isUndefined() || value.isNull();
}

bool isPlainObject(jsi::Runtime &rt, const jsi::Value &value) {
  return value.isObject() && !value.getObject(rt).isArray(rt) &&
         !value.getObject(rt).isFunction(rt);
}

bool isArray(jsi::Runtime &rt, const jsi::Value &value) {
  return value.isObject() && value.getObject(rt).isArray(rt);
}

std::string indexPath(const std::string &path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

constexpr const char *kFlagTypes[] = {"boolean", "string", "number", "json"};
constexpr size_t kMaxJsonValueBytes = 64 * 1024;

// The key rule: 1-100 of A-Z a-z 0-9 _ - . starting with a letter or digit.
bool isKey(const std::string &text) {
  if (text.empty() || text.size() > SK_MAX_KEY_BYTES) {
    return false;
  }
  for (size_t index = 0; index < text.size(); ++index) {
    char c = text[index];
    bool alphanumeric = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alphanumeric && (index == 0 || (c != '_' && c != '-' && c != '.'))) {
      return false;
    }
  }
  return true;
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
  if (isMissing(value)) {
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

int32_t readType(jsi::Runtime &rt, const jsi::Object &flag) {
  if (!flag.hasProperty(rt, "type")) {
    return SK_TYPE_BOOLEAN;
  }
  jsi::Value value = flag.getProperty(rt, "type");
  if (value.isString()) {
    std::string name = value.getString(rt).utf8(rt);
    for (int32_t type = SK_TYPE_BOOLEAN; type <= SK_TYPE_JSON; ++type) {
      if (name == kFlagTypes[type]) {
        return type;
      }
    }
  }
  throwFieldError(rt, "type", "must be one of boolean, string, number, json");
}

uint64_t readVersion(jsi::Runtime &rt, const jsi::Object &flag) {
  jsi::Value value = flag.getProperty(rt, "version");
  if (isMissing(value)) {
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

// A json variant's value must survive JSON.stringify and stay within the size limit.
void checkJsonValue(jsi::Runtime &rt, const jsi::Value &value, const std::string &path) {
  jsi::Function stringify =
      rt.global().getPropertyAsObject(rt, "JSON").getPropertyAsFunction(rt, "stringify");
  jsi::Value encoded;
  try {
    encoded = stringify.call(rt, value);
  } catch (const jsi::JSError &error) {
    throwFieldError(rt, path, std::string("must be a JSON value (") + error.getMessage() + ")");
  }
  if (!encoded.isString()) {
    throwFieldError(rt, path, "must be a JSON value");
  }
  size_t size = encoded.getString(rt).utf8(rt).size();
  if (size > kMaxJsonValueBytes) {
    throwFieldError(rt, path,
                    "at most " + std::to_string(kMaxJsonValueBytes) + " bytes of JSON, got " +
                        std::to_string(size));
  }
}

// The variant keys of a non-boolean flag, in wire order, after checking each variant.
std::vector<std::string> readVariants(jsi::Runtime &rt, const jsi::Array &variants, int32_t type) {
  std::vector<std::string> keys;
  size_t count = variants.size(rt);
  for (size_t index = 0; index < count; ++index) {
    std::string path = indexPath("variants", index);
    jsi::Value variantValue = variants.getValueAtIndex(rt, index);
    if (!isPlainObject(rt, variantValue)) {
      throwFieldError(rt, path, "must be an object");
    }
    jsi::Object variant = variantValue.getObject(rt);
    jsi::Value keyValue = variant.getProperty(rt, "key");
    std::string key = keyValue.isString() ? keyValue.getString(rt).utf8(rt) : std::string();
    if (!isKey(key)) {
      throwFieldError(rt, path + ".key", "must follow the key rule (1-100 of A-Z a-z 0-9 _ - .)");
    }
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      throwFieldError(rt, path + ".key", "duplicate variant key " + key);
    }
    if (!variant.hasProperty(rt, "value")) {
      throwFieldError(rt, path + ".value", "is required");
    }
    jsi::Value value = variant.getProperty(rt, "value");
    if (type == SK_TYPE_STRING && !value.isString()) {
      throwFieldError(rt, path + ".value", "must be a string for a string flag");
    }
    if (type == SK_TYPE_NUMBER && (!value.isNumber() || !std::isfinite(value.getNumber()))) {
      throwFieldError(rt, path + ".value", "must be a finite number for a number flag");
    }
    if (type == SK_TYPE_JSON) {
      checkJsonValue(rt, value, path + ".value");
    }
    jsi::Value name = variant.getProperty(rt, "name");
    if (!isMissing(name) && !name.isString()) {
      throwFieldError(rt, path + ".name", "must be a string");
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

int32_t variantIndex(jsi::Runtime &rt, const jsi::Value &value, const std::string &path,
                     const std::vector<std::string> &keys) {
  if (value.isString()) {
    std::string key = value.getString(rt).utf8(rt);
    auto found = std::find(keys.begin(), keys.end(), key);
    if (found != keys.end()) {
      return static_cast<int32_t>(found - keys.begin());
    }
  }
  throwFieldError(rt, path, "must name a variant");
}

// {"variant": K} or {"split": [{"variant": K, "weight": W}, ...]}, applied to target.
void applyServe(jsi::Runtime &rt, sk_flag *flag, int32_t target, const jsi::Value &serveValue,
                const std::string &path, const std::vector<std::string> &keys) {
  if (!isPlainObject(rt, serveValue)) {
    throwFieldError(rt, path, "must be an object");
  }
  jsi::Object serve = serveValue.getObject(rt);
  bool hasVariant = serve.hasProperty(rt, "variant");
  if (hasVariant == serve.hasProperty(rt, "split")) {
    throwFieldError(rt, path, "must have exactly one of \"variant\" and \"split\"");
  }
  if (hasVariant) {
    int32_t variant = variantIndex(rt, serve.getProperty(rt, "variant"), path + ".variant", keys);
    check(rt, sk_flag_serve_variant(flag, target, variant), path);
    return;
  }
  jsi::Value splitValue = serve.getProperty(rt, "split");
  size_t count = isArray(rt, splitValue) ? splitValue.getObject(rt).getArray(rt).size(rt) : 0;
  if (count == 0 || count > SK_MAX_VARIANTS) {
    throwFieldError(rt, path + ".split",
                    "must be a list of 1 to " + std::to_string(SK_MAX_VARIANTS) + " entries");
  }
  jsi::Array split = splitValue.getObject(rt).getArray(rt);
  std::vector<int32_t> variants;
  std::vector<uint32_t> weights;
  uint32_t total = 0;
  for (size_t index = 0; index < count; ++index) {
    std::string where = indexPath(path + ".split", index);
    jsi::Value entryValue = split.getValueAtIndex(rt, index);
    if (!isPlainObject(rt, entryValue)) {
      throwFieldError(rt, where, "must be an object");
    }
    jsi::Object entry = entryValue.getObject(rt);
    variants.push_back(
        variantIndex(rt, entry.getProperty(rt, "variant"), where + ".variant", keys));
    jsi::Value weight = entry.getProperty(rt, "weight");
    if (!weight.isNumber() || !isIntegral(weight.getNumber()) || weight.getNumber() < 0 ||
        weight.getNumber() > SK_SPLIT_TOTAL) {
      throwFieldError(rt, where + ".weight", "must be an integer from 0 to 1000");
    }
    weights.push_back(static_cast<uint32_t>(weight.getNumber()));
    total += weights.back();
  }
  if (total != SK_SPLIT_TOTAL) {
    throwFieldError(rt, path + ".split",
                    "weights must add up to 1000, got " + std::to_string(total));
  }
  check(rt, sk_flag_serve_split(flag, target, variants.data(), weights.data(), count), path);
}

void addCondition(jsi::Runtime &rt, sk_flag *flag, const jsi::Object &condition,
                  const std::string &path) {
  jsi::Value attributeValue = condition.getProperty(rt, "attribute");
  if (!attributeValue.isString() || attributeValue.getString(rt).utf8(rt).empty()) {
    throwFieldError(rt, path + ".attribute", "must be a non-empty string");
  }
  std::string attribute = attributeValue.getString(rt).utf8(rt);
  jsi::Value operatorValue = condition.getProperty(rt, "operator");
  std::string operatorName =
      operatorValue.isString() ? operatorValue.getString(rt).utf8(rt) : std::string();
  int32_t op =
      operatorValue.isString() ? sk_operator_parse(operatorName.data(), operatorName.size()) : -1;
  if (op < 0) {
    throwFieldError(rt, path + ".operator",
                    "must be one of Equals, NotEquals, Contains, StartsWith, EndsWith, Gt, Gte, "
                    "Lt, Lte, SemverEq, SemverGt, SemverLt");
  }
  jsi::Value valuesValue = condition.getProperty(rt, "values");
  if (!isArray(rt, valuesValue)) {
    throwFieldError(rt, path + ".values", "must be a list of strings");
  }
  jsi::Array valuesArray = valuesValue.getObject(rt).getArray(rt);
  size_t count = valuesArray.size(rt);
  if (count > SK_MAX_VALUES_PER_RULE) {
    throwFieldError(rt, path + ".values",
                    "at most " + std::to_string(SK_MAX_VALUES_PER_RULE) + " values");
  }
  // Every value is read (and type-checked) before the core parses any, as the other SDKs do.
  std::vector<std::string> values;
  values.reserve(count);
  for (size_t index = 0; index < count; ++index) {
    values.push_back(
        readString(rt, valuesArray.getValueAtIndex(rt, index), indexPath(path + ".values", index)));
  }
  jsi::Value negateValue = condition.getProperty(rt, "negate");
  if (hasValue(negateValue) && !negateValue.isBool()) {
    throwFieldError(rt, path + ".negate", "must be a boolean");
  }
  bool negate = negateValue.isBool() && negateValue.getBool();
  check(rt, sk_flag_add_condition(flag, attribute.data(), attribute.size(), op, negate), path);
  for (size_t index = 0; index < count; ++index) {
    int32_t status = sk_flag_add_value(flag, values[index].data(), values[index].size());
    if (status == SK_ERR_BAD_VALUE) {
      throwFieldError(rt, indexPath(path + ".values", index),
                      op >= SK_OP_SEMVER_EQ
                          ? "must be a SemVer 2.0.0 version for " + operatorName
                          : "must be a number in JSON's grammar for " + operatorName);
    }
    check(rt, status, indexPath(path + ".values", index));
  }
}

void addRule(jsi::Runtime &rt, sk_flag *flag, int32_t type, const jsi::Value &ruleValue,
             const std::string &path, const std::vector<std::string> &keys) {
  if (!isPlainObject(rt, ruleValue)) {
    throwFieldError(rt, path, "must be an object");
  }
  jsi::Object rule = ruleValue.getObject(rt);
  check(rt, sk_flag_begin_rule(flag), path);
  if (rule.hasProperty(rt, "conditions")) {
    for (const char *shorthand : {"attribute", "operator", "values", "negate"}) {
      if (rule.hasProperty(rt, shorthand)) {
        throwFieldError(rt, path + "." + shorthand,
                        std::string("a rule with \"conditions\" has no \"") + shorthand +
                            "\" of its own");
      }
    }
    jsi::Value conditionsValue = rule.getProperty(rt, "conditions");
    size_t count =
        isArray(rt, conditionsValue) ? conditionsValue.getObject(rt).getArray(rt).size(rt) : 0;
    if (count == 0 || count > SK_MAX_CONDITIONS) {
      throwFieldError(rt, path + ".conditions",
                      "must be a list of 1 to " + std::to_string(SK_MAX_CONDITIONS) +
                          " conditions");
    }
    jsi::Array conditions = conditionsValue.getObject(rt).getArray(rt);
    for (size_t index = 0; index < count; ++index) {
      jsi::Value condition = conditions.getValueAtIndex(rt, index);
      std::string where = indexPath(path + ".conditions", index);
      if (!isPlainObject(rt, condition)) {
        throwFieldError(rt, where, "must be an object");
      }
      addCondition(rt, flag, condition.getObject(rt), where);
    }
  } else {
    addCondition(rt, flag, rule, path);
  }
  if (rule.hasProperty(rt, "serve")) {
    applyServe(rt, flag, SK_SERVE_RULE, rule.getProperty(rt, "serve"), path + ".serve", keys);
  } else if (type != SK_TYPE_BOOLEAN) {
    throwFieldError(rt, path + ".serve",
                    std::string("is required on a ") + kFlagTypes[type] + " flag");
  }
}

// Converts a wire flag object (unknown fields ignored) into a new sk_flag the caller owns. The
// checks run in the order of the other SDKs, so a flag with several faults names the same one.
FlagPtr buildFlag(jsi::Runtime &rt, const jsi::Value &flagValue) {
  if (!flagValue.isObject()) {
    throw jsi::JSError(rt, "flag: must be an object");
  }
  jsi::Object wire = flagValue.getObject(rt);
  std::string key = readString(rt, wire.getProperty(rt, "key"), "key");
  bool enabled = readEnabled(rt, wire);
  int32_t rollout = readRollout(rt, wire);
  int32_t type = readType(rt, wire);
  size_t variantCount = 0;
  if (type == SK_TYPE_BOOLEAN) {
    for (const char *field : {"variants", "off_variant", "fallthrough"}) {
      if (!isMissing(wire.getProperty(rt, field))) {
        throwFieldError(rt, field, "is for non-boolean flags only");
      }
    }
  } else {
    if (rollout != -1) {
      throwFieldError(rt, "rollout_percentage",
                      std::string("must be null on a ") + kFlagTypes[type] + " flag");
    }
    jsi::Value variants = wire.getProperty(rt, "variants");
    variantCount = isArray(rt, variants) ? variants.getObject(rt).getArray(rt).size(rt) : 0;
    if (variantCount == 0 || variantCount > SK_MAX_VARIANTS) {
      throwFieldError(rt, "variants",
                      "must be a list of 1 to " + std::to_string(SK_MAX_VARIANTS) + " variants");
    }
  }
  uint64_t version = readVersion(rt, wire);

  sk_flag *raw = nullptr;
  int32_t status = sk_flag_new_typed(key.data(), key.size(), type, enabled, rollout,
                                     static_cast<uint32_t>(variantCount), version, &raw);
  if (status == SK_ERR_BAD_KEY) {
    throwFieldError(rt, "key",
                    "must be 1-100 characters of A-Z a-z 0-9 _ - . starting with a "
                    "letter or digit");
  }
  check(rt, status, "flag");
  FlagPtr flag(raw);

  std::vector<std::string> keys{"off", "on"};
  if (type != SK_TYPE_BOOLEAN) {
    keys = readVariants(rt, wire.getProperty(rt, "variants").getObject(rt).getArray(rt), type);
  }
  jsi::Value bucketBy = wire.getProperty(rt, "bucket_by");
  if (!isMissing(bucketBy)) {
    if (!bucketBy.isString() || bucketBy.getString(rt).utf8(rt).empty()) {
      throwFieldError(rt, "bucket_by", "must be a non-empty string or null");
    }
    std::string attribute = bucketBy.getString(rt).utf8(rt);
    check(rt, sk_flag_set_bucket_by(flag.get(), attribute.data(), attribute.size()), "bucket_by");
  }
  jsi::Value rulesValue = wire.getProperty(rt, "rules");
  if (hasValue(rulesValue)) {
    if (!isArray(rt, rulesValue)) {
      throwFieldError(rt, "rules", "must be a list");
    }
    jsi::Array rules = rulesValue.getObject(rt).getArray(rt);
    size_t count = rules.size(rt);
    if (count > SK_MAX_RULES) {
      throwFieldError(rt, "rules", "at most " + std::to_string(SK_MAX_RULES) + " rules");
    }
    for (size_t index = 0; index < count; ++index) {
      addRule(rt, flag.get(), type, rules.getValueAtIndex(rt, index), indexPath("rules", index),
              keys);
    }
  }
  if (type != SK_TYPE_BOOLEAN) {
    jsi::Value fallthrough = wire.getProperty(rt, "fallthrough");
    if (isMissing(fallthrough)) {
      throwFieldError(rt, "fallthrough",
                      std::string("is required on a ") + kFlagTypes[type] + " flag");
    }
    applyServe(rt, flag.get(), SK_SERVE_FALLTHROUGH, fallthrough, "fallthrough", keys);
    int32_t offVariant = variantIndex(rt, wire.getProperty(rt, "off_variant"), "off_variant", keys);
    check(rt, sk_flag_set_off_variant(flag.get(), offVariant), "off_variant");
  }
  return flag;
}

// Attribute names and texts; sk_typed_attribute points into these strings, so they must outlive
// the evaluation call.
struct Attributes {
  std::vector<std::string> text;
  std::vector<sk_typed_attribute> items;
};

// Strings as text, booleans as booleans, numbers by value (the core gives integral ones their
// decimal text), null, arrays and objects as present without a comparable value; undefined is
// not passed, so it counts as missing.
Attributes convertAttributes(jsi::Runtime &rt, const jsi::Value *args, size_t count, size_t index) {
  Attributes converted;
  if (index >= count || !args[index].isObject()) {
    return converted;
  }
  jsi::Object object = args[index].getObject(rt);
  jsi::Array names = object.getPropertyNames(rt);
  size_t total = names.size(rt);
  // Reserved up front: items point into these strings, which must not move.
  converted.text.reserve(total * 2);
  converted.items.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    jsi::Value nameValue = names.getValueAtIndex(rt, i);
    if (!nameValue.isString()) {
      continue;
    }
    jsi::String name = nameValue.getString(rt);
    jsi::Value value = object.getProperty(rt, name);
    if (value.isUndefined()) {
      continue;
    }
    sk_typed_attribute item{};
    converted.text.push_back(name.utf8(rt));
    item.name = converted.text.back().data();
    item.name_len = converted.text.back().size();
    if (value.isString()) {
      converted.text.push_back(value.getString(rt).utf8(rt));
      item.kind = SK_VALUE_TEXT;
      item.text = converted.text.back().data();
      item.text_len = converted.text.back().size();
    } else if (value.isBool()) {
      item.kind = SK_VALUE_BOOL;
      item.number = value.getBool() ? 1 : 0;
    } else if (value.isNumber()) {
      item.kind = SK_VALUE_NUMBER;
      item.number = value.getNumber();
    } else {
      item.kind = SK_VALUE_OTHER;
    }
    converted.items.push_back(item);
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

// The core's answer; src/store.ts maps variant (an index) to the variant's key and value.
jsi::Value evaluationObject(jsi::Runtime &rt, const sk_typed_evaluation &evaluation) {
  bool found = evaluation.variant >= 0;
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
                     found ? jsi::Value(static_cast<double>(evaluation.version))
                           : jsi::Value::null());
  result.setProperty(rt, "variant", found ? jsi::Value(evaluation.variant) : jsi::Value::null());
  result.setProperty(rt, "type",
                     found
                         ? jsi::Value(jsi::String::createFromAscii(rt, kFlagTypes[evaluation.type]))
                         : jsi::Value::null());
  return result;
}

sk_typed_evaluation evaluateTyped(jsi::Runtime &rt, const NativeStore &store,
                                  const std::string &flagKey, const std::string &userKey,
                                  const jsi::Value *args, size_t count) {
  Attributes attributes = convertAttributes(rt, args, count, 2);
  sk_typed_evaluation evaluation{};
  sk_store_evaluate_typed(store.get(), flagKey.data(), flagKey.size(), userKey.data(),
                          userKey.size(), attributes.items.data(), attributes.items.size(),
                          &evaluation);
  return evaluation;
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
      // isEnabled(flagKey, userKey, attributes?) -> boolean; false for anything unusable and for
      // every flag that is not boolean
      return function(rt, propName, 3,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        if (count < 2 || !args[0].isString() || !args[1].isString()) {
                          return jsi::Value(false);
                        }
                        std::string flagKey = args[0].getString(rt).utf8(rt);
                        std::string userKey = args[1].getString(rt).utf8(rt);
                        return jsi::Value(
                            evaluateTyped(rt, *store, flagKey, userKey, args, count).enabled != 0);
                      });
    }
    if (name == "evaluate") {
      // evaluate(flagKey, userKey, attributes?)
      //   -> {enabled, reason, ruleIndex, bucket, version, variant (an index), type}
      return function(rt, propName, 3,
                      [store](jsi::Runtime &rt, const jsi::Value &, const jsi::Value *args,
                              size_t count) -> jsi::Value {
                        std::string flagKey = stringArgument(rt, args, count, 0, "flagKey");
                        std::string userKey = stringArgument(rt, args, count, 1, "userKey");
                        return evaluationObject(
                            rt, evaluateTyped(rt, *store, flagKey, userKey, args, count));
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
