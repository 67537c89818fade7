/*
 * flag.c — flags: building and validating them, finalising them into read-only records, and
 * evaluating a record (rules of AND-ed conditions in order, then the rollout or the
 * fallthrough; serves of one variant or a split), also through the by-handle API.
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

#if defined(__GNUC__) || defined(__clang__)
#define SK_ALWAYS_INLINE inline __attribute__((always_inline))
#define SK_NOINLINE      __attribute__((noinline))
#else
#define SK_ALWAYS_INLINE inline
#define SK_NOINLINE
#endif

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

static void serve_init(sk_serve *serve, int32_t variant) {
  memset(serve, 0, sizeof *serve);
  serve->variant = variant;
}

static void serve_release(sk_serve *serve) {
  free(serve->split_variants);
  free(serve->split_ends);
}

int32_t sk_flag_new_typed(const char *key, size_t key_len, int32_t type, bool enabled,
                          int32_t rollout, uint32_t variant_count, uint64_t version,
                          sk_flag **out) {
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
  if (type < SK_TYPE_BOOLEAN || type > SK_TYPE_JSON) {
    return SK_ERR_BAD_TYPE;
  }
  if (type == SK_TYPE_BOOLEAN ? variant_count != 0
                              : (variant_count == 0 || variant_count > SK_MAX_VARIANTS)) {
    return SK_ERR_BAD_VARIANT;
  }
  if (rollout < -1 || rollout > 100 || (type != SK_TYPE_BOOLEAN && rollout != -1)) {
    return SK_ERR_BAD_ROLLOUT;
  }
  sk_flag *flag = record_new(key, key_len);
  if (flag == NULL) {
    return SK_ERR_NOMEM;
  }
  flag->type = type;
  flag->enabled = enabled;
  flag->rollout = rollout;
  flag->variant_count = variant_count;
  flag->off_variant = type == SK_TYPE_BOOLEAN ? SK_VARIANT_OFF : -1;
  serve_init(&flag->fallthrough, -1);
  flag->version = version;
  *out = flag;
  return SK_OK;
}

int32_t sk_flag_new(const char *key, size_t key_len, bool enabled, int32_t rollout,
                    uint64_t version, sk_flag **out) {
  return sk_flag_new_typed(key, key_len, SK_TYPE_BOOLEAN, enabled, rollout, 0, version, out);
}

sk_flag *sk_tombstone_new(const char *key, size_t key_len, uint64_t version) {
  sk_flag *flag = record_new(key, key_len);
  if (flag != NULL) {
    flag->tombstone = true;
    flag->version = version;
  }
  return flag;
}

int32_t sk_flag_begin_rule(sk_flag *flag) {
  if (flag == NULL || flag->finalised) {
    return SK_ERR_INVALID_ARGUMENT;
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
  sk_rule *rule = &flag->rules[flag->rule_count];
  memset(rule, 0, sizeof *rule);
  serve_init(&rule->serve, flag->type == SK_TYPE_BOOLEAN ? SK_VARIANT_ON : -1);
  flag->rule_count++;
  return SK_OK;
}

static bool operator_is_valid(int32_t op) {
  return op >= SK_OP_EQUALS && op <= SK_OP_SEMVER_LT;
}

int32_t sk_flag_add_condition(sk_flag *flag, const char *attribute, size_t attribute_len,
                              int32_t op, bool negate) {
  if (flag == NULL || flag->finalised || (attribute == NULL && attribute_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (flag->rule_count == 0) {
    return SK_ERR_NO_RULE;
  }
  if (attribute_len == 0) {
    return SK_ERR_BAD_ATTRIBUTE;
  }
  if (!operator_is_valid(op)) {
    return SK_ERR_BAD_OPERATOR;
  }
  sk_rule *rule = &flag->rules[flag->rule_count - 1];
  if (rule->condition_count >= SK_MAX_CONDITIONS) {
    return SK_ERR_TOO_MANY_CONDITIONS;
  }
  if (rule->condition_count == rule->conditions_cap) {
    const size_t cap = rule->conditions_cap == 0 ? 1 : rule->conditions_cap * 2;
    sk_condition *conditions = realloc(rule->conditions, cap * sizeof *conditions);
    if (conditions == NULL) {
      return SK_ERR_NOMEM;
    }
    rule->conditions = conditions;
    rule->conditions_cap = cap;
  }
  char *name = copy_bytes(attribute, attribute_len);
  if (name == NULL) {
    return SK_ERR_NOMEM;
  }
  sk_condition *condition = &rule->conditions[rule->condition_count];
  memset(condition, 0, sizeof *condition);
  condition->attribute = name;
  condition->attribute_len = attribute_len;
  condition->op = op;
  condition->negate = negate;
  rule->condition_count++;
  return SK_OK;
}

static void condition_release(sk_condition *condition) {
  free(condition->attribute);
  free(condition->bytes);
  free(condition->ends);
  free(condition->values);
  free(condition->numbers);
  sk_text_matcher_free(condition->matcher);
}

int32_t sk_flag_add_rule(sk_flag *flag, const char *attribute, size_t attribute_len, int32_t op) {
  if (flag == NULL || (attribute == NULL && attribute_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (attribute_len == 0) {
    return SK_ERR_BAD_ATTRIBUTE;
  }
  if (!operator_is_valid(op)) {
    return SK_ERR_BAD_OPERATOR;
  }
  int32_t status = sk_flag_begin_rule(flag);
  if (status != SK_OK) {
    return status;
  }
  status = sk_flag_add_condition(flag, attribute, attribute_len, op, false);
  if (status != SK_OK) {
    flag->rule_count--; /* drop the rule just begun: it has no condition, at most their array */
    free(flag->rules[flag->rule_count].conditions);
  }
  return status;
}

/* Whether a value is acceptable for the operator: numeric and SemVer operators parse theirs. */
static bool value_fits_operator(int32_t op, const char *value, size_t value_len) {
  if (op >= SK_OP_GT && op <= SK_OP_LTE) {
    double number;
    return value != NULL && sk_number_parse_text(value, value_len, &number);
  }
  if (op >= SK_OP_SEMVER_EQ && op <= SK_OP_SEMVER_LT) {
    sk_semver version;
    return sk_semver_parse(value, value_len, &version);
  }
  return true;
}

int32_t sk_flag_add_value(sk_flag *flag, const char *value, size_t value_len) {
  if (flag == NULL || flag->finalised || (value == NULL && value_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (flag->rule_count == 0 || flag->rules[flag->rule_count - 1].condition_count == 0) {
    return SK_ERR_NO_RULE;
  }
  sk_rule *last_rule = &flag->rules[flag->rule_count - 1];
  sk_condition *rule = &last_rule->conditions[last_rule->condition_count - 1];
  if (rule->value_count >= SK_MAX_VALUES_PER_RULE) {
    return SK_ERR_TOO_MANY_VALUES;
  }
  if (!value_fits_operator(rule->op, value, value_len)) {
    return SK_ERR_BAD_VALUE;
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

int32_t sk_flag_set_bucket_by(sk_flag *flag, const char *attribute, size_t attribute_len) {
  if (flag == NULL || flag->finalised || (attribute == NULL && attribute_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  char *name = NULL;
  if (attribute_len > 0) {
    name = copy_bytes(attribute, attribute_len);
    if (name == NULL) {
      return SK_ERR_NOMEM;
    }
  }
  free(flag->bucket_by);
  flag->bucket_by = name;
  flag->bucket_by_len = attribute_len;
  return SK_OK;
}

/* Whether variant is one this flag can serve. */
static bool variant_is_valid(const sk_flag *flag, int32_t variant) {
  if (flag->type == SK_TYPE_BOOLEAN) {
    return variant == SK_VARIANT_OFF || variant == SK_VARIANT_ON;
  }
  return variant >= 0 && (uint32_t)variant < flag->variant_count;
}

int32_t sk_flag_set_off_variant(sk_flag *flag, int32_t variant) {
  if (flag == NULL || flag->finalised) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (flag->type == SK_TYPE_BOOLEAN || !variant_is_valid(flag, variant)) {
    return SK_ERR_BAD_VARIANT;
  }
  flag->off_variant = variant;
  return SK_OK;
}

/* The serve a target names, or NULL with *status saying why. */
static sk_serve *serve_of(sk_flag *flag, int32_t target, int32_t *status) {
  if (target == SK_SERVE_RULE) {
    if (flag->rule_count == 0) {
      *status = SK_ERR_NO_RULE;
      return NULL;
    }
    return &flag->rules[flag->rule_count - 1].serve;
  }
  if (target == SK_SERVE_FALLTHROUGH && flag->type != SK_TYPE_BOOLEAN) {
    return &flag->fallthrough;
  }
  *status = SK_ERR_BAD_VARIANT;
  return NULL;
}

int32_t sk_flag_serve_variant(sk_flag *flag, int32_t target, int32_t variant) {
  if (flag == NULL || flag->finalised) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  int32_t status = SK_OK;
  sk_serve *serve = serve_of(flag, target, &status);
  if (serve == NULL) {
    return status;
  }
  if (!variant_is_valid(flag, variant)) {
    return SK_ERR_BAD_VARIANT;
  }
  serve_release(serve);
  serve_init(serve, variant);
  return SK_OK;
}

int32_t sk_flag_serve_split(sk_flag *flag, int32_t target, const int32_t *variants,
                            const uint32_t *weights, size_t count) {
  if (flag == NULL || flag->finalised || ((variants == NULL || weights == NULL) && count != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  int32_t status = SK_OK;
  sk_serve *serve = serve_of(flag, target, &status);
  if (serve == NULL) {
    return status;
  }
  if (count == 0 || count > SK_MAX_VARIANTS) {
    return SK_ERR_BAD_SPLIT;
  }
  uint32_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (!variant_is_valid(flag, variants[i])) {
      return SK_ERR_BAD_VARIANT;
    }
    if (weights[i] > SK_SPLIT_TOTAL) {
      return SK_ERR_BAD_SPLIT;
    }
    total += weights[i];
  }
  if (total != SK_SPLIT_TOTAL) {
    return SK_ERR_BAD_SPLIT;
  }
  int32_t *split_variants = malloc(count * sizeof *split_variants);
  uint32_t *split_ends = malloc(count * sizeof *split_ends);
  if (split_variants == NULL || split_ends == NULL) {
    free(split_variants);
    free(split_ends);
    return SK_ERR_NOMEM;
  }
  uint32_t running = 0;
  for (size_t i = 0; i < count; i++) {
    running += weights[i];
    split_variants[i] = variants[i];
    split_ends[i] = running;
  }
  serve_release(serve);
  serve->variant = -1;
  serve->split_count = count;
  serve->split_variants = split_variants;
  serve->split_ends = split_ends;
  return SK_OK;
}

void sk_flag_free(sk_flag *flag) {
  if (flag == NULL) {
    return;
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    sk_rule *rule = &flag->rules[i];
    for (size_t j = 0; j < rule->condition_count; j++) {
      condition_release(&rule->conditions[j]);
    }
    free(rule->conditions);
    serve_release(&rule->serve);
  }
  serve_release(&flag->fallthrough);
  free(flag->simple_rules);
  free(flag->rules);
  free(flag->bucket_by);
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

/* Whether a condition is answered by a text matcher rather than a loop over its values. */
static bool needs_matcher(const sk_condition *rule) {
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

static bool is_numeric_operator(int32_t op) {
  return op >= SK_OP_GT && op <= SK_OP_LTE;
}

static int32_t finalise_condition(sk_condition *rule) {
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
    if (is_numeric_operator(rule->op)) {
      double *numbers = malloc(rule->value_count * sizeof *numbers);
      if (numbers == NULL) {
        free(values);
        return SK_ERR_NOMEM;
      }
      for (size_t i = 0; i < rule->value_count; i++) {
        numbers[i] = 0.0;
        (void)sk_number_parse_text(values[i].ptr, values[i].len, &numbers[i]); /* checked when
                                                                                  added */
      }
      rule->numbers = numbers;
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

/* Whether every part the flag's type requires is there. */
static bool flag_is_complete(const sk_flag *flag) {
  for (size_t i = 0; i < flag->rule_count; i++) {
    const sk_rule *rule = &flag->rules[i];
    if (rule->condition_count == 0 || (rule->serve.variant < 0 && rule->serve.split_count == 0)) {
      return false;
    }
  }
  if (flag->type == SK_TYPE_BOOLEAN) {
    return true;
  }
  return flag->off_variant >= 0 &&
         (flag->fallthrough.variant >= 0 || flag->fallthrough.split_count > 0);
}

/* Whether the flag has rules and is shaped as a version 1 flag (see sk_flag.simple_rules). */
static bool flag_is_simple(const sk_flag *flag) {
  if (flag->type != SK_TYPE_BOOLEAN || flag->bucket_by != NULL || flag->rule_count == 0) {
    return false;
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    const sk_rule *rule = &flag->rules[i];
    if (rule->condition_count != 1 || rule->conditions[0].negate ||
        rule->conditions[0].op > SK_OP_ENDS_WITH || rule->serve.split_count != 0 ||
        rule->serve.variant != SK_VARIANT_ON) {
      return false;
    }
  }
  return true;
}

int32_t sk_flag_finalise(sk_flag *flag) {
  if (flag->finalised) {
    return SK_OK; /* its building buffers are gone; finalising twice must not touch them */
  }
  if (!flag_is_complete(flag)) {
    return SK_ERR_INCOMPLETE;
  }
  for (size_t i = 0; i < flag->rule_count; i++) {
    sk_rule *rule = &flag->rules[i];
    for (size_t j = 0; j < rule->condition_count; j++) {
      const int32_t status = finalise_condition(&rule->conditions[j]);
      if (status != SK_OK) {
        return status;
      }
    }
  }
  if (flag_is_simple(flag)) {
    flag->simple_rules = malloc(flag->rule_count * sizeof *flag->simple_rules);
    if (flag->simple_rules == NULL) {
      return SK_ERR_NOMEM;
    }
    for (size_t i = 0; i < flag->rule_count; i++) {
      flag->simple_rules[i] = flag->rules[i].conditions[0];
    }
  }
  sk_murmur3_init(&flag->rollout_seed, 0);
  sk_murmur3_update(&flag->rollout_seed, flag->key, flag->key_len);
  sk_murmur3_update(&flag->rollout_seed, ":", 1);
  sk_murmur3_init(&flag->split_seed, SK_SPLIT_SEED);
  sk_murmur3_update(&flag->split_seed, flag->key, flag->key_len);
  sk_murmur3_update(&flag->split_seed, ":", 1);
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

/* The attributes handed to one evaluation: version 1 text ones or version 2 typed ones. */
typedef struct sk_attributes {
  const sk_attribute *text;        /* version 1, or NULL */
  const sk_typed_attribute *typed; /* version 2, or NULL */
  size_t count;
} sk_attributes;

/* An attribute found for a condition: its kind and whatever of its value the kind has. */
typedef struct value_view {
  int32_t kind; /* an sk_value_kind */
  const char *text;
  size_t text_len;
  bool has_text;
  double number;
  char digits[24]; /* the text of an integral number the binding gave no text for */
} value_view;

/* 2^53: integral numbers below it in magnitude are written in decimal when they need text. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0

/* Writes an integral number of magnitude below 2^53 in decimal into view->digits. */
static void write_integer(value_view *view) {
  int64_t integer = (int64_t)view->number;
  const bool negative = integer < 0;
  uint64_t magnitude = negative ? (uint64_t)(-integer) : (uint64_t)integer;
  char reversed[24];
  size_t n = 0;
  do {
    reversed[n++] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  size_t len = 0;
  if (negative) {
    view->digits[len++] = '-';
  }
  while (n > 0) {
    view->digits[len++] = reversed[--n];
  }
  view->text = view->digits;
  view->text_len = len;
  view->has_text = true;
}

/* Fills *view from the first typed attribute named name; false when there is none. */
static bool find_typed_value(const sk_typed_attribute *typed, size_t count, const char *name,
                             size_t name_len, value_view *view) {
  for (size_t i = 0; i < count; i++) {
    if (typed[i].name_len != name_len || !sk_bytes_equal(typed[i].name, name, name_len)) {
      continue;
    }
    const sk_typed_attribute *found = &typed[i];
    view->has_text = false;
    view->text = empty_bytes;
    view->text_len = 0;
    view->number = 0.0;
    switch (found->kind) {
    case SK_VALUE_TEXT:
      view->kind = SK_VALUE_TEXT;
      view->text = found->text != NULL ? found->text : empty_bytes;
      view->text_len = found->text_len;
      view->has_text = true;
      break;
    case SK_VALUE_NUMBER:
      view->kind = SK_VALUE_NUMBER;
      view->number = found->number;
      if (found->text != NULL) {
        view->text = found->text;
        view->text_len = found->text_len;
        view->has_text = true;
      } else if (found->number > -EXACT_INTEGER_LIMIT && found->number < EXACT_INTEGER_LIMIT &&
                 (double)(int64_t)found->number == found->number) {
        write_integer(view); /* NaN fails the range checks */
      }
      break;
    case SK_VALUE_BOOL:
      view->kind = SK_VALUE_BOOL;
      view->has_text = true;
      if (found->number != 0.0) {
        view->text = "true";
        view->text_len = 4;
      } else {
        view->text = "false";
        view->text_len = 5;
      }
      break;
    default:
      view->kind = SK_VALUE_OTHER;
      break;
    }
    return true;
  }
  return false;
}

/* The first version 1 text attribute named name, or NULL. */
static SK_ALWAYS_INLINE const sk_attribute *
find_text_attribute(const sk_attribute *text, size_t count, const char *name, size_t name_len) {
  for (size_t i = 0; i < count; i++) {
    if (text[i].name_len == name_len && sk_bytes_equal(text[i].name, name, name_len)) {
      return &text[i];
    }
  }
  return NULL;
}

static SK_ALWAYS_INLINE bool text_operator_holds(const sk_condition *rule, const char *value,
                                                 size_t value_len) {
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

static bool numeric_operator_holds(const sk_condition *rule, const value_view *view) {
  double number;
  if (view->kind == SK_VALUE_NUMBER) {
    number = view->number;
  } else if (view->kind != SK_VALUE_TEXT ||
             !sk_number_parse_text(view->text, view->text_len, &number)) {
    return false;
  }
  for (size_t i = 0; i < rule->value_count; i++) {
    const double bound = rule->numbers[i];
    bool holds;
    switch (rule->op) {
    case SK_OP_GT:
      holds = number > bound;
      break;
    case SK_OP_GTE:
      holds = number >= bound;
      break;
    case SK_OP_LT:
      holds = number < bound;
      break;
    default:
      holds = number <= bound;
      break;
    }
    if (holds) {
      return true;
    }
  }
  return false;
}

static bool semver_operator_holds(const sk_condition *rule, const value_view *view) {
  sk_semver version;
  if (view->kind != SK_VALUE_TEXT || !sk_semver_parse(view->text, view->text_len, &version)) {
    return false;
  }
  for (size_t i = 0; i < rule->value_count; i++) {
    sk_semver bound;
    if (!sk_semver_parse(rule->values[i].ptr, rule->values[i].len, &bound)) {
      continue; /* checked when added; kept defensive */
    }
    const int order = sk_semver_order(&version, &bound);
    if ((rule->op == SK_OP_SEMVER_EQ && order == 0) || (rule->op == SK_OP_SEMVER_GT && order > 0) ||
        (rule->op == SK_OP_SEMVER_LT && order < 0)) {
      return true;
    }
  }
  return false;
}

/* The numeric and SemVer operators over a value: out of the text operators' inlined path. */
static SK_NOINLINE bool compare_operator_holds(const sk_condition *rule, const value_view *view) {
  return is_numeric_operator(rule->op) ? numeric_operator_holds(rule, view)
                                       : semver_operator_holds(rule, view);
}

static SK_ALWAYS_INLINE bool is_text_operator(const sk_condition *rule) {
  return rule->evaluate_as <= SK_OP_ENDS_WITH || rule->evaluate_as == SK_RULE_BY_MATCHER;
}

/* Whether a finalised condition holds for the attributes (the first with its name counts).
 * `typed` is a constant at each call site, so version 1 and version 2 entry points each get a
 * copy without the other's branches. */
static SK_ALWAYS_INLINE bool condition_holds(const sk_condition *rule,
                                             const sk_attributes *attributes, bool typed) {
  bool holds;
  if (!typed) {
    const sk_attribute *found = find_text_attribute(attributes->text, attributes->count,
                                                    rule->attribute, rule->attribute_len);
    if (found == NULL) {
      return false; /* a missing attribute is false, negated or not */
    }
    const char *value = found->value != NULL ? found->value : empty_bytes;
    if (is_text_operator(rule)) {
      holds = text_operator_holds(rule, value, found->value_len);
    } else {
      value_view view;
      view.kind = SK_VALUE_TEXT;
      view.text = value;
      view.text_len = found->value_len;
      view.has_text = true;
      view.number = 0.0;
      holds = compare_operator_holds(rule, &view);
    }
    return holds != rule->negate;
  }
  value_view view;
  if (!find_typed_value(attributes->typed, attributes->count, rule->attribute, rule->attribute_len,
                        &view)) {
    return false;
  }
  if (is_text_operator(rule)) {
    holds = view.has_text && text_operator_holds(rule, view.text, view.text_len);
  } else {
    holds = compare_operator_holds(rule, &view);
  }
  return holds != rule->negate;
}

static SK_ALWAYS_INLINE bool rule_holds(const sk_rule *rule, const sk_attributes *attributes,
                                        bool typed) {
  for (size_t i = 0; i < rule->condition_count; i++) {
    if (!condition_holds(&rule->conditions[i], attributes, typed)) {
      return false;
    }
  }
  return true;
}

/* The bytes hashed for this user: the bucket_by attribute's text when it has one. view holds
 * the text of a number, so it must outlive the use of *out. */
static void bucket_input(const sk_flag *flag, const char *user_key, size_t user_key_len,
                         const sk_attributes *attributes, value_view *view, const char **out,
                         size_t *out_len) {
  *out = user_key;
  *out_len = user_key_len;
  if (flag->bucket_by == NULL) {
    return;
  }
  if (attributes->typed == NULL) {
    const sk_attribute *found = find_text_attribute(attributes->text, attributes->count,
                                                    flag->bucket_by, flag->bucket_by_len);
    if (found != NULL) {
      *out = found->value != NULL ? found->value : empty_bytes;
      *out_len = found->value_len;
    }
    return;
  }
  if (find_typed_value(attributes->typed, attributes->count, flag->bucket_by, flag->bucket_by_len,
                       view) &&
      view->has_text) {
    *out = view->text;
    *out_len = view->text_len;
  }
}

/* Fills variant and bucket from a serve. */
static void apply_serve(const sk_flag *flag, const sk_serve *serve, const char *user_key,
                        size_t user_key_len, const sk_attributes *attributes,
                        sk_typed_evaluation *out) {
  if (serve->split_count == 0) {
    out->variant = serve->variant;
    return;
  }
  value_view view;
  const char *b;
  size_t b_len;
  bucket_input(flag, user_key, user_key_len, attributes, &view, &b, &b_len);
  const uint32_t bucket = sk_murmur3_finish(&flag->split_seed, b, b_len) % SK_SPLIT_TOTAL;
  out->bucket = (int32_t)bucket;
  size_t i = 0;
  while (i + 1 < serve->split_count && serve->split_ends[i] <= bucket) {
    i++;
  }
  out->variant = serve->split_variants[i];
}

static SK_ALWAYS_INLINE void record_evaluate(const sk_flag *flag, const char *user_key,
                                             size_t user_key_len, const sk_attributes *attributes,
                                             sk_typed_evaluation *out, bool typed) {
  out->version = flag->version;
  out->rule_index = -1;
  out->bucket = -1;
  out->type = flag->type;
  const bool boolean = flag->type == SK_TYPE_BOOLEAN;
  if (!flag->enabled) {
    out->reason = SK_REASON_OFF;
    out->variant = flag->off_variant;
    out->enabled = 0;
    return;
  }
  if (!typed && flag->simple_rules != NULL) {
    for (size_t i = 0; i < flag->rule_count; i++) {
      const sk_condition *condition = &flag->simple_rules[i];
      const sk_attribute *found = find_text_attribute(
          attributes->text, attributes->count, condition->attribute, condition->attribute_len);
      if (found != NULL &&
          text_operator_holds(condition, found->value != NULL ? found->value : empty_bytes,
                              found->value_len)) {
        out->reason = SK_REASON_RULE_MATCH;
        out->rule_index = (int32_t)i;
        out->variant = SK_VARIANT_ON;
        out->enabled = 1;
        return;
      }
    }
  } else {
    for (size_t i = 0; i < flag->rule_count; i++) {
      if (rule_holds(&flag->rules[i], attributes, typed)) {
        out->reason = SK_REASON_RULE_MATCH;
        out->rule_index = (int32_t)i;
        apply_serve(flag, &flag->rules[i].serve, user_key, user_key_len, attributes, out);
        out->enabled = boolean && out->variant == SK_VARIANT_ON;
        return;
      }
    }
  }
  out->reason = SK_REASON_ROLLOUT;
  if (!boolean) {
    apply_serve(flag, &flag->fallthrough, user_key, user_key_len, attributes, out);
    out->enabled = 0;
    return;
  }
  if (flag->rollout < 0 || flag->rollout >= 100) {
    out->variant = SK_VARIANT_ON;
    out->enabled = 1;
    return;
  }
  if (flag->rollout == 0) {
    out->variant = SK_VARIANT_OFF;
    out->enabled = 0;
    return;
  }
  const char *b = user_key;
  size_t b_len = user_key_len;
  value_view view;
  if (flag->bucket_by != NULL) {
    bucket_input(flag, user_key, user_key_len, attributes, &view, &b, &b_len);
  }
  const uint32_t bucket = sk_murmur3_finish(&flag->rollout_seed, b, b_len) % 100u;
  out->bucket = (int32_t)bucket;
  out->enabled = bucket < (uint32_t)flag->rollout;
  out->variant = out->enabled ? SK_VARIANT_ON : SK_VARIANT_OFF;
}

void sk_record_evaluate_text(const sk_flag *flag, const char *user_key, size_t user_key_len,
                             const sk_attribute *attributes, size_t attribute_count,
                             sk_typed_evaluation *out) {
  const sk_attributes set = {attributes, NULL, attribute_count};
  record_evaluate(flag, user_key, user_key_len, &set, out, false);
}

int32_t sk_record_is_enabled_text(const sk_flag *flag, const char *user_key, size_t user_key_len,
                                  const sk_attribute *attributes, size_t attribute_count) {
  /* The same inlined evaluation: the compiler drops the fields nobody reads. */
  const sk_attributes set = {attributes, NULL, attribute_count};
  sk_typed_evaluation result;
  record_evaluate(flag, user_key, user_key_len, &set, &result, false);
  return result.enabled;
}

void sk_record_evaluate_typed(const sk_flag *flag, const char *user_key, size_t user_key_len,
                              const sk_typed_attribute *attributes, size_t attribute_count,
                              sk_typed_evaluation *out) {
  const sk_attributes set = {NULL, attributes, attribute_count};
  record_evaluate(flag, user_key, user_key_len, &set, out, true);
}

/* Whether a by-handle evaluation may run: the handle is a live record from a store. */
static inline bool handle_is_evaluable(const sk_flag *flag) {
  return flag->finalised && !flag->tombstone;
}

int32_t sk_flag_evaluate(const sk_flag *flag, const char *user_key, size_t user_key_len,
                         const sk_attribute *attributes, size_t attribute_count,
                         sk_evaluation *out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_typed_evaluation result;
  sk_evaluation_not_found(&result);
  int32_t status = SK_OK;
  if (flag != NULL) {
    if (!handle_is_evaluable(flag) ||
        !sk_evaluation_arguments_valid(user_key, user_key_len, attributes, attribute_count)) {
      status = SK_ERR_INVALID_ARGUMENT;
    } else {
      sk_record_evaluate_text(flag, user_key, user_key_len, attributes, attribute_count, &result);
    }
  }
  sk_evaluation_to_v1(&result, out);
  return status;
}

int32_t sk_flag_evaluate_typed(const sk_flag *flag, const char *user_key, size_t user_key_len,
                               const sk_typed_attribute *attributes, size_t attribute_count,
                               sk_typed_evaluation *out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_evaluation_not_found(out);
  if (flag == NULL) {
    return SK_OK;
  }
  if (!handle_is_evaluable(flag) ||
      !sk_typed_arguments_valid(user_key, user_key_len, attributes, attribute_count)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_record_evaluate_typed(flag, user_key, user_key_len, attributes, attribute_count, out);
  return SK_OK;
}

int32_t sk_flag_is_enabled(const sk_flag *flag, const char *user_key, size_t user_key_len,
                           const sk_attribute *attributes, size_t attribute_count) {
  if (flag == NULL || !handle_is_evaluable(flag) ||
      !sk_evaluation_arguments_valid(user_key, user_key_len, attributes, attribute_count)) {
    return 0;
  }
  return sk_record_is_enabled_text(flag, user_key, user_key_len, attributes, attribute_count);
}
