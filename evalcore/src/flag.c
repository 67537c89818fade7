/*
 * flag.c — flags: building and validating them, finalising them into read-only records, and
 * evaluating a record (rules in order, then the rollout), also through the by-handle API.
 */
#include "flag.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

/* Up to this many Equals/NotEquals values are scanned in order: cheaper than a binary search
 * when a length check settles most of them. */
#define LINEAR_SCAN_MAX 8

/* Contains / StartsWith / EndsWith rules with at most this many values, each (for Contains) at
 * most SIMPLE_CONTAINS_MAX_BYTES long, are answered by a loop over the values: for the short
 * lists most rules have it is cheaper than a trie walk, and its cost per attribute byte stays
 * bounded (values x bytes compared per position). Larger rules get a text matcher, whose cost
 * does not grow with the number of values. */
#define SIMPLE_LOOP_MAX_VALUES    8
#define SIMPLE_CONTAINS_MAX_BYTES 32

/* Points an empty view somewhere valid so that memcmp/memchr never see NULL. */
static const char empty_bytes[1] = {0};

static bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sk_key_is_valid(const char *key, size_t key_len) {
  if (key == NULL || key_len == 0 || key_len > SK_MAX_KEY_BYTES) {
    return false;
  }
  if (!is_ascii_alnum((unsigned char)key[0])) {
    return false;
  }
  for (size_t i = 1; i < key_len; i++) {
    const unsigned char c = (unsigned char)key[i];
    if (!is_ascii_alnum(c) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

static char *copy_bytes(const char *src, size_t len) {
  char *dst = malloc(len > 0 ? len : 1);
  if (dst != NULL && len > 0) {
    memcpy(dst, src, len);
  }
  return dst;
}

static sk_flag *record_new(const char *key, size_t key_len) {
  sk_flag *flag = calloc(1, sizeof *flag);
  if (flag == NULL) {
    return NULL;
  }
  flag->key = copy_bytes(key, key_len);
  if (flag->key == NULL) {
    free(flag);
    return NULL;
  }
  flag->key_len = key_len;
  flag->key_hash = sk_key_hash(key, key_len);
  return flag;
}

int32_t sk_flag_new(const char *key, size_t key_len, bool enabled, int32_t rollout,
                    uint64_t version, sk_flag **out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  *out = NULL;
  if (key == NULL && key_len != 0) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (!sk_key_is_valid(key, key_len)) {
    return SK_ERR_BAD_KEY;
  }
  if (rollout < -1 || rollout > 100) {
    return SK_ERR_BAD_ROLLOUT;
  }
  sk_flag *flag = record_new(key, key_len);
  if (flag == NULL) {
    return SK_ERR_NOMEM;
  }
  flag->enabled = enabled;
  flag->rollout = rollout;
  flag->version = version;
  *out = flag;
  return SK_OK;
}

sk_flag *sk_tombstone_new(const char *key, size_t key_len, uint64_t version) {
  sk_flag *flag = record_new(key, key_len);
  if (flag != NULL) {
    flag->tombstone = true;
    flag->version = version;
  }
  return flag;
}

int32_t sk_flag_add_rule(sk_flag *flag, const char *attribute, size_t attribute_len, int32_t op) {
  if (flag == NULL || (attribute == NULL && attribute_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (attribute_len == 0) {
    return SK_ERR_BAD_ATTRIBUTE;
  }
  if (op < SK_OP_EQUALS || op > SK_OP_ENDS_WITH) {
    return SK_ERR_BAD_OPERATOR;
  }
  if (flag->rule_count >= SK_MAX_RULES) {
    return SK_ERR_TOO_MANY_RULES;
  }
  if (flag->rule_count == flag->rules_cap) {
    const size_t cap = flag->rules_cap == 0 ? 4 : flag->rules_cap * 2;
    sk_rule *rules = realloc(flag->rules, cap * sizeof *rules);
    if (rules == NULL) {
      return SK_ERR_NOMEM;
    }
    flag->rules = rules;
    flag->rules_cap = cap;
  }
  char *name = copy_bytes(attribute, attribute_len);
  if (name == NULL) {
    return SK_ERR_NOMEM;
  }
  sk_rule *rule = &flag->rules[flag->rule_count];
  memset(rule, 0, sizeof *rule);
  rule->attribute = name;
  rule->attribute_len = attribute_len;
  rule->op = op;
  flag->rule_count++;
  return SK_OK;
}

int32_t sk_flag_add_value(sk_flag *flag, const char *value, size_t value_len) {
  if (flag == NULL || (value == NULL && value_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (flag->rule_count == 0) {
    return SK_ERR_NO_RULE;
  }
  sk_rule *rule = &flag->rules[flag->rule_count - 1];
  if (rule->value_count >= SK_MAX_VALUES_PER_RULE) {
    return SK_ERR_TOO_MANY_VALUES;
  }
  if (value_len > SIZE_MAX / 2 - rule->bytes_len) {
    return SK_ERR_NOMEM;
  }
  /* Grow both buffers before touching either, so a failure leaves the rule as it was (a larger
   * capacity is not a visible change). */
  const size_t needed = rule->bytes_len + value_len;
  if (needed > rule->bytes_cap) {
    size_t cap = rule->bytes_cap < 64 ? 64 : rule->bytes_cap * 2;
    if (cap < needed) {
      cap = needed;
    }
    char *bytes = realloc(rule->bytes, cap);
    if (bytes == NULL) {
      return SK_ERR_NOMEM;
    }
    rule->bytes = bytes;
    rule->bytes_cap = cap;
  }
  if (rule->value_count == rule->values_cap) {
    size_t cap = rule->values_cap == 0 ? 8 : rule->values_cap * 2;
    if (cap > SK_MAX_VALUES_PER_RULE) {
      cap = SK_MAX_VALUES_PER_RULE;
    }
    size_t *ends = realloc(rule->ends, cap * sizeof *ends);
    if (ends == NULL) {
      return SK_ERR_NOMEM;
    }
    rule->ends = ends;
    rule->values_cap = cap;
  }
  if (value_len > 0) {
    memcpy(rule->bytes + rule->bytes_len, value, value_len);
  }
  rule->bytes_len = needed;
  rule->ends[rule->value_count++] = needed;
  return SK_OK;
}

void sk_flag_free(sk_flag *flag) {
  if (flag == NULL) {
    return;
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    sk_rule *rule = &flag->rules[i];
    free(rule->attribute);
    free(rule->bytes);
    free(rule->ends);
    free(rule->values);
    sk_text_matcher_free(rule->matcher);
  }
  free(flag->rules);
  free(flag->key);
  free(flag);
}

/* Orders values by length first: a cheap comparison that settles most pairs without memcmp. */
static int compare_bytes(const char *a, size_t a_len, const char *b, size_t b_len) {
  if (a_len != b_len) {
    return a_len < b_len ? -1 : 1;
  }
  return memcmp(a, b, a_len);
}

static int compare_slices(const void *a, const void *b) {
  const sk_slice *x = a;
  const sk_slice *y = b;
  return compare_bytes(x->ptr, x->len, y->ptr, y->len);
}

/* Whether a rule is answered by a text matcher rather than a loop over its values. */
static bool needs_matcher(const sk_rule *rule) {
  if (rule->op != SK_OP_CONTAINS && rule->op != SK_OP_STARTS_WITH && rule->op != SK_OP_ENDS_WITH) {
    return false;
  }
  if (rule->value_count > SIMPLE_LOOP_MAX_VALUES) {
    return true;
  }
  if (rule->op == SK_OP_CONTAINS) {
    size_t start = 0;
    for (size_t i = 0; i < rule->value_count; i++) {
      if (rule->ends[i] - start > SIMPLE_CONTAINS_MAX_BYTES) {
        return true;
      }
      start = rule->ends[i];
    }
  }
  return false;
}

static int32_t finalise_rule(sk_rule *rule) {
  if (needs_matcher(rule)) {
    const int32_t status =
        sk_text_matcher_build(rule->op, rule->bytes, rule->ends, rule->value_count, &rule->matcher);
    if (status != SK_OK) {
      return status;
    }
  }
  if (rule->value_count > 0) {
    sk_slice *values = malloc(rule->value_count * sizeof *values);
    if (values == NULL) {
      return SK_ERR_NOMEM;
    }
    const char *base = rule->bytes != NULL ? rule->bytes : empty_bytes;
    size_t start = 0;
    for (size_t i = 0; i < rule->value_count; i++) {
      values[i].ptr = base + start;
      values[i].len = rule->ends[i] - start;
      start = rule->ends[i];
    }
    if ((rule->op == SK_OP_EQUALS || rule->op == SK_OP_NOT_EQUALS) &&
        rule->value_count > LINEAR_SCAN_MAX) {
      qsort(values, rule->value_count, sizeof *values, compare_slices);
    }
    rule->values = values;
  }
  free(rule->ends);
  rule->ends = NULL;
  rule->values_cap = 0;
  rule->evaluate_as = rule->matcher != NULL ? SK_RULE_BY_MATCHER : rule->op;
  return SK_OK;
}

int32_t sk_flag_finalise(sk_flag *flag) {
  if (flag->finalised) {
    return SK_OK; /* its building buffers are gone; finalising twice must not touch them */
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    const int32_t status = finalise_rule(&flag->rules[i]);
    if (status != SK_OK) {
      return status;
    }
  }
  sk_murmur3_init(&flag->rollout_seed, 0);
  sk_murmur3_update(&flag->rollout_seed, flag->key, flag->key_len);
  sk_murmur3_update(&flag->rollout_seed, ":", 1);
  flag->finalised = true;
  return SK_OK;
}

static inline bool values_contain(const sk_slice *values, size_t count, const char *value,
                                  size_t value_len) {
  if (count <= LINEAR_SCAN_MAX) {
    for (size_t i = 0; i < count; i++) {
      if (values[i].len == value_len && sk_bytes_equal(values[i].ptr, value, value_len)) {
        return true;
      }
    }
    return false;
  }
  size_t lo = 0;
  size_t hi = count;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int order = compare_bytes(values[mid].ptr, values[mid].len, value, value_len);
    if (order == 0) {
      return true;
    }
    if (order < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

static bool bytes_contain(const char *haystack, size_t haystack_len, const char *needle,
                          size_t needle_len) {
  if (needle_len == 0) {
    return true;
  }
  if (needle_len > haystack_len) {
    return false;
  }
  const char *p = haystack;
  const char *last = haystack + (haystack_len - needle_len);
  while (p <= last) {
    p = memchr(p, needle[0], (size_t)(last - p) + 1);
    if (p == NULL) {
      return false;
    }
    if (sk_bytes_equal(p + 1, needle + 1, needle_len - 1)) {
      return true;
    }
    p++;
  }
  return false;
}

/* Whether a finalised rule matches the attributes (the first one with the rule's name counts). */
static bool rule_matches(const sk_rule *rule, const sk_attribute *attributes,
                         size_t attribute_count) {
  const sk_attribute *found = NULL;
  for (size_t i = 0; i < attribute_count; i++) {
    if (attributes[i].name_len == rule->attribute_len &&
        sk_bytes_equal(attributes[i].name, rule->attribute, rule->attribute_len)) {
      found = &attributes[i];
      break;
    }
  }
  if (found == NULL) {
    return false;
  }
  const char *value = found->value != NULL ? found->value : empty_bytes;
  const size_t value_len = found->value_len;
  const sk_slice *values = rule->values;
  const size_t count = rule->value_count;

  switch (rule->evaluate_as) {
  case SK_RULE_BY_MATCHER:
    return sk_text_matcher_matches(rule->matcher, value, value_len);
  case SK_OP_EQUALS:
    return values_contain(values, count, value, value_len);
  case SK_OP_NOT_EQUALS:
    return !values_contain(values, count, value, value_len);
  case SK_OP_CONTAINS:
    for (size_t i = 0; i < count; i++) {
      if (bytes_contain(value, value_len, values[i].ptr, values[i].len)) {
        return true;
      }
    }
    return false;
  case SK_OP_STARTS_WITH:
    for (size_t i = 0; i < count; i++) {
      if (values[i].len <= value_len && sk_bytes_equal(value, values[i].ptr, values[i].len)) {
        return true;
      }
    }
    return false;
  case SK_OP_ENDS_WITH:
    for (size_t i = 0; i < count; i++) {
      if (values[i].len <= value_len &&
          sk_bytes_equal(value + (value_len - values[i].len), values[i].ptr, values[i].len)) {
        return true;
      }
    }
    return false;
  default:
    return false;
  }
}

void sk_record_evaluate(const sk_flag *flag, const char *user_key, size_t user_key_len,
                        const sk_attribute *attributes, size_t attribute_count,
                        sk_evaluation *out) {
  out->version = flag->version;
  out->rule_index = -1;
  out->bucket = -1;
  if (!flag->enabled) {
    out->reason = SK_REASON_OFF;
    out->enabled = 0;
    return;
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    if (rule_matches(&flag->rules[i], attributes, attribute_count)) {
      out->reason = SK_REASON_RULE_MATCH;
      out->rule_index = (int32_t)i;
      out->enabled = 1;
      return;
    }
  }
  out->reason = SK_REASON_ROLLOUT;
  if (flag->rollout < 0 || flag->rollout >= 100) {
    out->enabled = 1;
    return;
  }
  if (flag->rollout == 0) {
    out->enabled = 0;
    return;
  }
  const uint32_t bucket = sk_murmur3_finish(&flag->rollout_seed, user_key, user_key_len) % 100u;
  out->bucket = (int32_t)bucket;
  out->enabled = bucket < (uint32_t)flag->rollout;
}

int32_t sk_flag_evaluate(const sk_flag *flag, const char *user_key, size_t user_key_len,
                         const sk_attribute *attributes, size_t attribute_count,
                         sk_evaluation *out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_evaluation_not_found(out);
  if (flag == NULL) {
    return SK_OK;
  }
  if (!flag->finalised || flag->tombstone ||
      !sk_evaluation_arguments_valid(user_key, user_key_len, attributes, attribute_count)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_record_evaluate(flag, user_key, user_key_len, attributes, attribute_count, out);
  return SK_OK;
}

int32_t sk_flag_is_enabled(const sk_flag *flag, const char *user_key, size_t user_key_len,
                           const sk_attribute *attributes, size_t attribute_count) {
  sk_evaluation result;
  if (sk_flag_evaluate(flag, user_key, user_key_len, attributes, attribute_count, &result) !=
      SK_OK) {
    return 0;
  }
  return result.enabled;
}
