/*
 * names.c — the ABI version and the names of statuses, reasons and operators.
 */
#include <string.h>

#include "sidekick.h"

uint32_t sk_abi_version(void) {
  return SK_ABI_VERSION;
}

const char *sk_status_name(int32_t status) {
  switch (status) {
  case SK_OK:
    return "SK_OK";
  case SK_IGNORED_STALE:
    return "SK_IGNORED_STALE";
  case SK_ERR_NOMEM:
    return "SK_ERR_NOMEM";
  case SK_ERR_INVALID_ARGUMENT:
    return "SK_ERR_INVALID_ARGUMENT";
  case SK_ERR_BAD_KEY:
    return "SK_ERR_BAD_KEY";
  case SK_ERR_BAD_ROLLOUT:
    return "SK_ERR_BAD_ROLLOUT";
  case SK_ERR_BAD_OPERATOR:
    return "SK_ERR_BAD_OPERATOR";
  case SK_ERR_BAD_ATTRIBUTE:
    return "SK_ERR_BAD_ATTRIBUTE";
  case SK_ERR_TOO_MANY_RULES:
    return "SK_ERR_TOO_MANY_RULES";
  case SK_ERR_TOO_MANY_VALUES:
    return "SK_ERR_TOO_MANY_VALUES";
  case SK_ERR_NO_RULE:
    return "SK_ERR_NO_RULE";
  case SK_ERR_NOT_FOUND:
    return "SK_ERR_NOT_FOUND";
  case SK_ERR_BAD_TYPE:
    return "SK_ERR_BAD_TYPE";
  case SK_ERR_BAD_VARIANT:
    return "SK_ERR_BAD_VARIANT";
  case SK_ERR_BAD_SPLIT:
    return "SK_ERR_BAD_SPLIT";
  case SK_ERR_BAD_VALUE:
    return "SK_ERR_BAD_VALUE";
  case SK_ERR_TOO_MANY_CONDITIONS:
    return "SK_ERR_TOO_MANY_CONDITIONS";
  case SK_ERR_INCOMPLETE:
    return "SK_ERR_INCOMPLETE";
  default:
    return "SK_UNKNOWN";
  }
}

const char *sk_reason_name(int32_t reason) {
  switch (reason) {
  case SK_REASON_FLAG_NOT_FOUND:
    return "FLAG_NOT_FOUND";
  case SK_REASON_OFF:
    return "OFF";
  case SK_REASON_RULE_MATCH:
    return "RULE_MATCH";
  case SK_REASON_ROLLOUT:
    return "ROLLOUT";
  default:
    return "UNKNOWN";
  }
}

int32_t sk_operator_parse(const char *name, size_t name_len) {
  static const struct {
    const char *name;
    size_t len;
    int32_t op;
  } operators[] = {
      {"Equals", 6, SK_OP_EQUALS},
      {"NotEquals", 9, SK_OP_NOT_EQUALS},
      {"Contains", 8, SK_OP_CONTAINS},
      {"StartsWith", 10, SK_OP_STARTS_WITH},
      {"EndsWith", 8, SK_OP_ENDS_WITH},
      {"Gt", 2, SK_OP_GT},
      {"Gte", 3, SK_OP_GTE},
      {"Lt", 2, SK_OP_LT},
      {"Lte", 3, SK_OP_LTE},
      {"SemverEq", 8, SK_OP_SEMVER_EQ},
      {"SemverGt", 8, SK_OP_SEMVER_GT},
      {"SemverLt", 8, SK_OP_SEMVER_LT},
  };
  if (name == NULL) {
    return -1;
  }
  for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
    if (name_len == operators[i].len && memcmp(name, operators[i].name, name_len) == 0) {
      return operators[i].op;
    }
  }
  return -1;
}
