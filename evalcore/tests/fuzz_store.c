/*
 * fuzz_store.c — differential fuzzing: random sequences of flag builds, upserts, removes, clears
 * and evaluations run against the core and against a deliberately naive model of the contract
 * (linear scans, the bucket hashed from the concatenated string); any disagreement, crash or
 * sanitizer report is a bug. Some rules get many values, or values longer than 32 bytes, so the
 * core answers them with its text matchers while the model still compares value by value.
 * Built with -DSK_TEXT_MATCHER_DENSE_BASE_CELLS=0 -DSK_TEXT_MATCHER_DENSE_CELLS_PER_BYTE=0, the
 * matchers keep a full row for the root only, so Contains runs on failure links everywhere else.
 *
 * Typed (version 2) flags join in: string flags of three variants and boolean flags with rules of
 * up to three AND-ed conditions (text, numeric and SemVer operators, negate), serves of one
 * variant or a split, bucket_by, off and fallthrough variants, evaluated with typed attributes
 * (text, numbers, booleans, "other") against a model that knows each pooled value's number and
 * SemVer rank from tables rather than by parsing.
 *
 * Built as a libFuzzer target with -DSK_LIBFUZZER (clang -fsanitize=fuzzer); otherwise a main()
 * feeds it a fixed number of pseudo-random inputs so that any compiler can run it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "sidekick.h"

enum { KEYS = 4, MAX_RULES = 3, FEW_VALUES = 3, MAX_VALUES = 24, MAX_STR = 6, MAX_LONG = 40 };
enum { MAX_ATTRS = 3, POOL = 8, MAX_ATTR_LEN = 3 * MAX_LONG };

static const char *const keys[KEYS] = {"a", "k1", "flag.x", "Beta-9"};
static const char *const names[] = {"email", "plan", "x"};
/* A small alphabet makes matches, prefixes and suffixes frequent; it includes UTF-8 and NUL. */
static const char alphabet[] = {'a', 'b', '@', '.', (char)0xc3, (char)0xa9, '\0'};

typedef struct text {
  char bytes[MAX_LONG];
  size_t len;
} text;

typedef struct model_rule {
  size_t name;
  int32_t op;
  text values[MAX_VALUES];
  int value_count;
} model_rule;

/* ---- typed flags: pooled values with their meaning written out ---- */

enum { TYPED_CONDITIONS = 3, TYPED_VALUES = 3, TYPED_VARIANTS = 3, SPLIT_ENTRIES = 4 };

typedef struct pooled {
  const char *text;
  bool is_number; /* in JSON's grammar, then number holds its double */
  double number;
  int semver_rank; /* precedence among the pool's versions; -1 when not a SemVer version */
} pooled;

static const pooled pool_values[] = {
    {"0", true, 0.0, -1},          {"-0", true, -0.0, -1},     {"1", true, 1.0, -1},
    {"2.5", true, 2.5, -1},        {"1e3", true, 1000.0, -1},  {"-7", true, -7.0, -1},
    {"1e400", true, HUGE_VAL, -1}, {"1e-400", true, 0.0, -1},  {" 1", false, 0, -1},
    {"01", false, 0, -1},          {"NaN", false, 0, -1},      {"1.", false, 0, -1},
    {"1.0.0-alpha", false, 0, 0},  {"1.0.0", false, 0, 1},     {"1.2.3-rc.1", false, 0, 2},
    {"1.2.3", false, 0, 3},        {"1.2.3+b.7", false, 0, 3}, {"1.10.0", false, 0, 4},
    {"v1.2.3", false, 0, -1},      {"", false, 0, -1},         {"a", false, 0, -1},
    {"true", false, 0, -1},
};
enum { POOLED = sizeof pool_values / sizeof pool_values[0] };
/* Indexes into pool_values usable as condition values of each kind of operator. */
static const int numeric_values[] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int semver_values[] = {12, 13, 14, 15, 17};
static const double attribute_numbers[] = {0.0, -0.0, 1.0, 2.5, 1000.0, -7.0, 1e300, 0.5};

typedef struct typed_condition {
  size_t name;
  int32_t op;
  bool negate;
  int value_count;
  int values[TYPED_VALUES]; /* indexes into pool_values */
} typed_condition;

typedef struct model_serve {
  int split_count; /* 0: variant */
  int32_t variant;
  int32_t split_variants[SPLIT_ENTRIES];
  uint32_t weights[SPLIT_ENTRIES];
} model_serve;

typedef struct typed_rule {
  typed_condition conditions[TYPED_CONDITIONS];
  int condition_count;
  model_serve serve;
} typed_rule;

typedef struct typed_attribute_model {
  size_t name;
  int32_t kind;
  int text; /* index into pool_values for SK_VALUE_TEXT */
  double number;
} typed_attribute_model;

typedef struct model_flag {
  bool present;
  bool typed; /* built with the version 2 builder: the fields below apply */
  int32_t type;
  typed_rule typed_rules[MAX_RULES];
  model_serve fallthrough;
  int32_t off_variant;
  bool bucket_by_x; /* bucket_by the attribute "x" */
  bool tombstone;   /* a remembered versioned delete */
  uint64_t version;
  bool enabled;
  int32_t rollout;
  model_rule rules[MAX_RULES];
  int rule_count;
} model_flag;

typedef struct input {
  const uint8_t *data;
  size_t size;
} input;

/* The last POOL rule values built: attribute values are often pieced together from them, so
 * that overlapping values, prefixes and suffixes really occur in what is evaluated. */
typedef struct text_pool {
  text texts[POOL];
  size_t count;
} text_pool;

static text_pool pool;

static uint8_t next(input *in) {
  if (in->size == 0) {
    return 0;
  }
  in->size--;
  return *in->data++;
}

/* Mostly up to MAX_STR random bytes; one in eight is a short pattern repeated to 30..40 bytes,
 * long enough to need a Contains matcher and periodic, so long values overlap each other and
 * long attributes often. */
static text next_text(input *in) {
  text t;
  const uint8_t shape = next(in);
  if (shape % 8 != 0) {
    t.len = shape / 8 % (MAX_STR + 1);
    for (size_t i = 0; i < t.len; i++) {
      t.bytes[i] = alphabet[next(in) % sizeof alphabet];
    }
    return t;
  }
  char period[3];
  const size_t period_len = 1 + shape / 8 % 3;
  for (size_t i = 0; i < period_len; i++) {
    period[i] = alphabet[next(in) % sizeof alphabet];
  }
  t.len = 30 + next(in) % (MAX_LONG - 30 + 1);
  for (size_t i = 0; i < t.len; i++) {
    t.bytes[i] = period[i % period_len];
  }
  if (next(in) % 2 == 0) {
    t.bytes[t.len - 1] = alphabet[next(in) % sizeof alphabet]; /* "aaa…ab" */
  }
  return t;
}

typedef struct attribute_text {
  char bytes[MAX_ATTR_LEN];
  size_t len;
} attribute_text;

/* One to three pieces, each a fresh text or a pooled rule value, whole or cut to a part. */
static attribute_text next_attribute_text(input *in) {
  attribute_text a;
  a.len = 0;
  const int pieces = 1 + next(in) % 3;
  for (int i = 0; i < pieces; i++) {
    const uint8_t choice = next(in);
    if (pool.count == 0 || choice % 2 != 0) {
      const text fresh = next_text(in);
      memcpy(a.bytes + a.len, fresh.bytes, fresh.len);
      a.len += fresh.len;
      continue;
    }
    const size_t held = pool.count < POOL ? pool.count : POOL;
    const text *piece = &pool.texts[choice / 2 % held];
    size_t from = 0;
    size_t to = piece->len;
    if (choice / 32 % 2 != 0 && to > 0) { /* a part of it */
      from = next(in) % (to + 1);
      to = from + next(in) % (to - from + 1);
    }
    memcpy(a.bytes + a.len, piece->bytes + from, to - from);
    a.len += to - from;
  }
  return a;
}

static bool text_eq(const char *a, size_t a_len, const text *b) {
  return a_len == b->len && memcmp(a, b->bytes, a_len) == 0;
}

static bool model_rule_matches(const model_rule *rule, const sk_attribute *attrs, size_t count) {
  const char *name = names[rule->name];
  for (size_t i = 0; i < count; i++) {
    if (attrs[i].name_len != strlen(name) || memcmp(attrs[i].name, name, strlen(name)) != 0) {
      continue;
    }
    const char *v = attrs[i].value;
    const size_t n = attrs[i].value_len;
    bool any = false;
    for (int j = 0; j < rule->value_count; j++) {
      const text *t = &rule->values[j];
      switch (rule->op) {
      case SK_OP_EQUALS:
      case SK_OP_NOT_EQUALS:
        any |= text_eq(v, n, t);
        break;
      case SK_OP_CONTAINS:
        for (size_t at = 0; at + t->len <= n; at++) {
          any |= memcmp(v + at, t->bytes, t->len) == 0;
        }
        break;
      case SK_OP_STARTS_WITH:
        any |= t->len <= n && memcmp(v, t->bytes, t->len) == 0;
        break;
      default:
        any |= t->len <= n && memcmp(v + n - t->len, t->bytes, t->len) == 0;
        break;
      }
    }
    return rule->op == SK_OP_NOT_EQUALS ? !any : any;
  }
  return false;
}

static sk_evaluation model_evaluate(const model_flag *flag, const char *key, const text *user,
                                    const sk_attribute *attrs, size_t count) {
  sk_evaluation e = {0, SK_REASON_FLAG_NOT_FOUND, -1, -1, 0};
  if (flag == NULL || !flag->present) {
    return e;
  }
  e.version = flag->version;
  if (!flag->enabled) {
    e.reason = SK_REASON_OFF;
    return e;
  }
  for (int i = 0; i < flag->rule_count; i++) {
    if (model_rule_matches(&flag->rules[i], attrs, count)) {
      e.reason = SK_REASON_RULE_MATCH;
      e.rule_index = i;
      e.enabled = 1;
      return e;
    }
  }
  e.reason = SK_REASON_ROLLOUT;
  if (flag->rollout == -1 || flag->rollout == 100) {
    e.enabled = 1;
  } else if (flag->rollout > 0) {
    char joined[64];
    const size_t key_len = strlen(key);
    memcpy(joined, key, key_len);
    joined[key_len] = ':';
    memcpy(joined + key_len + 1, user->bytes, user->len);
    e.bucket = (int32_t)(sk_murmur3_32(joined, key_len + 1 + user->len, 0) % 100);
    e.enabled = e.bucket < flag->rollout;
  }
  return e;
}

/* The text a typed attribute has for text operators and bucket_by; false when none. */
static bool typed_text(const typed_attribute_model *a, char *buffer, const char **text,
                       size_t *len) {
  switch (a->kind) {
  case SK_VALUE_TEXT:
    *text = pool_values[a->text].text;
    *len = strlen(*text);
    return true;
  case SK_VALUE_BOOL:
    *text = a->number != 0.0 ? "true" : "false";
    *len = strlen(*text);
    return true;
  case SK_VALUE_NUMBER:
    if (a->number == floor(a->number) && fabs(a->number) < 9007199254740992.0) {
      *len = (size_t)snprintf(buffer, 32, "%lld", (long long)a->number);
      *text = buffer;
      return true;
    }
    return false;
  default:
    return false;
  }
}

static bool typed_condition_model(const typed_condition *c, const typed_attribute_model *attrs,
                                  size_t count) {
  const typed_attribute_model *a = NULL;
  for (size_t i = 0; i < count && a == NULL; i++) {
    if (attrs[i].name == c->name) {
      a = &attrs[i];
    }
  }
  if (a == NULL) {
    return false;
  }
  bool any = false;
  if (c->op >= SK_OP_GT && c->op <= SK_OP_LTE) {
    bool has_number = a->kind == SK_VALUE_NUMBER;
    double number = a->number;
    if (a->kind == SK_VALUE_TEXT && pool_values[a->text].is_number) {
      has_number = true;
      number = pool_values[a->text].number;
    }
    for (int v = 0; has_number && v < c->value_count; v++) {
      const double bound = pool_values[c->values[v]].number;
      any |= c->op == SK_OP_GT    ? number > bound
             : c->op == SK_OP_GTE ? number >= bound
             : c->op == SK_OP_LT  ? number < bound
                                  : number <= bound;
    }
  } else if (c->op >= SK_OP_SEMVER_EQ) {
    const int rank = a->kind == SK_VALUE_TEXT ? pool_values[a->text].semver_rank : -1;
    for (int v = 0; rank >= 0 && v < c->value_count; v++) {
      const int bound = pool_values[c->values[v]].semver_rank;
      any |= c->op == SK_OP_SEMVER_EQ   ? rank == bound
             : c->op == SK_OP_SEMVER_GT ? rank > bound
                                        : rank < bound;
    }
  } else {
    char buffer[32];
    const char *text;
    size_t len;
    if (typed_text(a, buffer, &text, &len)) {
      for (int v = 0; v < c->value_count; v++) {
        const char *value = pool_values[c->values[v]].text;
        const size_t n = strlen(value);
        switch (c->op) {
        case SK_OP_EQUALS:
        case SK_OP_NOT_EQUALS:
          any |= n == len && memcmp(value, text, n) == 0;
          break;
        case SK_OP_CONTAINS:
          for (size_t at = 0; at + n <= len; at++) {
            any |= memcmp(text + at, value, n) == 0;
          }
          break;
        case SK_OP_STARTS_WITH:
          any |= n <= len && memcmp(text, value, n) == 0;
          break;
        default:
          any |= n <= len && memcmp(text + len - n, value, n) == 0;
          break;
        }
      }
      if (c->op == SK_OP_NOT_EQUALS) {
        any = !any;
      }
    }
  }
  return any != c->negate;
}

static int32_t model_serve_variant(const model_serve *serve, const char *key, const char *b,
                                   size_t b_len, int32_t *bucket) {
  if (serve->split_count == 0) {
    return serve->variant;
  }
  char joined[256];
  const size_t key_len = strlen(key);
  memcpy(joined, key, key_len);
  joined[key_len] = ':';
  memcpy(joined + key_len + 1, b, b_len);
  *bucket = (int32_t)(sk_murmur3_32(joined, key_len + 1 + b_len, 86028157u) % 1000);
  uint32_t sum = 0;
  for (int i = 0; i < serve->split_count; i++) {
    sum += serve->weights[i];
    if ((uint32_t)*bucket < sum) {
      return serve->split_variants[i];
    }
  }
  return -2; /* weights add up to 1000: never */
}

static sk_typed_evaluation model_typed_evaluate(const model_flag *flag, const char *key,
                                                const text *user,
                                                const typed_attribute_model *attrs, size_t count) {
  sk_typed_evaluation e = {0, SK_REASON_FLAG_NOT_FOUND, -1, -1, 0, -1, -1};
  if (flag == NULL || !flag->present) {
    return e;
  }
  e.version = flag->version;
  e.type = flag->type;
  const bool boolean = flag->type == SK_TYPE_BOOLEAN;
  const char *b = user->bytes;
  size_t b_len = user->len;
  char buffer[32];
  for (size_t i = 0; flag->bucket_by_x && i < count; i++) {
    if (attrs[i].name == 2) {
      if (!typed_text(&attrs[i], buffer, &b, &b_len)) {
        b = user->bytes;
        b_len = user->len;
      }
      break;
    }
  }
  if (!flag->enabled) {
    e.reason = SK_REASON_OFF;
    e.variant = flag->off_variant;
    return e;
  }
  for (int r = 0; r < flag->rule_count; r++) {
    const typed_rule *rule = &flag->typed_rules[r];
    bool all = true;
    for (int c = 0; c < rule->condition_count; c++) {
      all = all && typed_condition_model(&rule->conditions[c], attrs, count);
    }
    if (all) {
      e.reason = SK_REASON_RULE_MATCH;
      e.rule_index = r;
      e.variant = model_serve_variant(&rule->serve, key, b, b_len, &e.bucket);
      e.enabled = boolean && e.variant == SK_VARIANT_ON;
      return e;
    }
  }
  e.reason = SK_REASON_ROLLOUT;
  if (!boolean) {
    e.variant = model_serve_variant(&flag->fallthrough, key, b, b_len, &e.bucket);
    return e;
  }
  if (flag->rollout == -1 || flag->rollout == 100) {
    e.variant = SK_VARIANT_ON;
  } else if (flag->rollout == 0) {
    e.variant = SK_VARIANT_OFF;
  } else {
    char joined[256];
    const size_t key_len = strlen(key);
    memcpy(joined, key, key_len);
    joined[key_len] = ':';
    memcpy(joined + key_len + 1, b, b_len);
    e.bucket = (int32_t)(sk_murmur3_32(joined, key_len + 1 + b_len, 0) % 100);
    e.variant = e.bucket < flag->rollout ? SK_VARIANT_ON : SK_VARIANT_OFF;
  }
  e.enabled = e.variant == SK_VARIANT_ON;
  return e;
}

static size_t model_count(const model_flag *model) {
  size_t count = 0;
  for (int i = 0; i < KEYS; i++) {
    count += model[i].present;
  }
  return count;
}

/* Builds a flag from the input, both in the core and in the model; returns the status the
 * builder reported (the core's flag is freed here unless it is returned through *out). */
static int32_t build(input *in, size_t key, model_flag *m, sk_flag **out) {
  static const int32_t rollouts[] = {-1, 0, 1, 50, 99, 100, 101, -2};
  memset(m, 0, sizeof *m);
  m->enabled = next(in) % 4 != 0;
  m->rollout = rollouts[next(in) % 8];
  m->version = next(in) % 6;
  *out = NULL;
  sk_flag *flag = NULL;
  int32_t status =
      sk_flag_new(keys[key], strlen(keys[key]), m->enabled, m->rollout, m->version, &flag);
  if (status != SK_OK) {
    CHECK_EQ(status, SK_ERR_BAD_ROLLOUT);
    CHECK(m->rollout == 101 || m->rollout == -2);
    return status;
  }
  m->rule_count = next(in) % (MAX_RULES + 1);
  for (int r = 0; r < m->rule_count; r++) {
    model_rule *rule = &m->rules[r];
    rule->name = next(in) % 3;
    rule->op = next(in) % 6;
    if (rule->op == 5) {
      rule->op = SK_OP_SEMVER_LT + 1; /* not an operator */
    }
    status = sk_flag_add_rule(flag, names[rule->name], strlen(names[rule->name]), rule->op);
    if (status != SK_OK) {
      CHECK_EQ(status, SK_ERR_BAD_OPERATOR);
      CHECK_EQ(rule->op, SK_OP_SEMVER_LT + 1);
      sk_flag_free(flag);
      return status;
    }
    const uint8_t many = next(in);
    rule->value_count = many % 4 == 0 ? 9 + many / 4 % (MAX_VALUES - 8) : many % (FEW_VALUES + 1);
    for (int v = 0; v < rule->value_count; v++) {
      rule->values[v] = next_text(in);
      if (rule->value_count > FEW_VALUES && rule->values[v].len < 2 && next(in) % 16 != 0) {
        /* Among many values an empty or one-byte one would match nearly everything. */
        while (rule->values[v].len < 2) {
          rule->values[v].bytes[rule->values[v].len++] = alphabet[next(in) % sizeof alphabet];
        }
      }
      pool.texts[pool.count++ % POOL] = rule->values[v];
      CHECK_EQ(sk_flag_add_value(flag, rule->values[v].bytes, rule->values[v].len), SK_OK);
    }
  }
  *out = flag;
  return SK_OK;
}

static void next_serve(input *in, int32_t type, model_serve *serve) {
  const int32_t variants = type == SK_TYPE_BOOLEAN ? 2 : TYPED_VARIANTS;
  memset(serve, 0, sizeof *serve);
  if (next(in) % 2 == 0) {
    serve->variant = next(in) % variants;
    return;
  }
  serve->split_count = 1 + next(in) % SPLIT_ENTRIES;
  uint32_t left = 1000;
  for (int i = 0; i < serve->split_count; i++) {
    serve->split_variants[i] = next(in) % variants;
    const uint8_t shape = next(in);
    uint32_t weight = shape % 4 == 0 ? 0 : (uint32_t)(shape * 7u) % (left + 1);
    if (i == serve->split_count - 1) {
      weight = left;
    }
    serve->weights[i] = weight;
    left -= weight;
  }
}

static int32_t apply_serve(sk_flag *flag, int32_t target, const model_serve *serve) {
  if (serve->split_count == 0) {
    return sk_flag_serve_variant(flag, target, serve->variant);
  }
  return sk_flag_serve_split(flag, target, serve->split_variants, serve->weights,
                             (size_t)serve->split_count);
}

/* Builds a typed flag in the core and the model; SK_OK with *out, or the builder's refusal. */
static int32_t build_typed(input *in, size_t key, model_flag *m, sk_flag **out) {
  memset(m, 0, sizeof *m);
  m->typed = true;
  m->type = next(in) % 2 == 0 ? SK_TYPE_BOOLEAN : SK_TYPE_STRING;
  const bool boolean = m->type == SK_TYPE_BOOLEAN;
  m->enabled = next(in) % 4 != 0;
  static const int32_t rollouts[] = {-1, 0, 1, 50, 99, 100};
  m->rollout = boolean ? rollouts[next(in) % 6] : -1;
  m->version = next(in) % 6;
  m->bucket_by_x = next(in) % 3 == 0;
  m->off_variant = boolean ? SK_VARIANT_OFF : next(in) % TYPED_VARIANTS;
  *out = NULL;
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new_typed(keys[key], strlen(keys[key]), m->type, m->enabled, m->rollout,
                             boolean ? 0 : TYPED_VARIANTS, m->version, &flag),
           SK_OK);
  if (m->bucket_by_x) {
    CHECK_EQ(sk_flag_set_bucket_by(flag, "x", 1), SK_OK);
  }
  if (!boolean) {
    CHECK_EQ(sk_flag_set_off_variant(flag, m->off_variant), SK_OK);
    next_serve(in, m->type, &m->fallthrough);
    CHECK_EQ(apply_serve(flag, SK_SERVE_FALLTHROUGH, &m->fallthrough), SK_OK);
  }
  m->rule_count = next(in) % (MAX_RULES + 1);
  for (int r = 0; r < m->rule_count; r++) {
    typed_rule *rule = &m->typed_rules[r];
    CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
    rule->condition_count = 1 + next(in) % TYPED_CONDITIONS;
    for (int c = 0; c < rule->condition_count; c++) {
      typed_condition *condition = &rule->conditions[c];
      condition->name = next(in) % 3;
      condition->op = next(in) % (SK_OP_SEMVER_LT + 1);
      condition->negate = next(in) % 4 == 0;
      CHECK_EQ(sk_flag_add_condition(flag, names[condition->name], strlen(names[condition->name]),
                                     condition->op, condition->negate),
               SK_OK);
      condition->value_count = next(in) % (TYPED_VALUES + 1);
      for (int v = 0; v < condition->value_count; v++) {
        const uint8_t pick = next(in);
        int index;
        if (condition->op >= SK_OP_GT && condition->op <= SK_OP_LTE) {
          index = numeric_values[pick % (sizeof numeric_values / sizeof numeric_values[0])];
        } else if (condition->op >= SK_OP_SEMVER_EQ) {
          index = semver_values[pick % (sizeof semver_values / sizeof semver_values[0])];
        } else {
          index = pick % POOLED;
        }
        condition->values[v] = index;
        CHECK_EQ(sk_flag_add_value(flag, pool_values[index].text, strlen(pool_values[index].text)),
                 SK_OK);
      }
      /* A value the operator cannot parse is refused and changes nothing. */
      if (condition->op >= SK_OP_GT && next(in) % 8 == 0) {
        CHECK_EQ(sk_flag_add_value(flag, "v1.2.3", 6), SK_ERR_BAD_VALUE);
      }
    }
    if (boolean && next(in) % 2 == 0) {
      rule->serve.variant = SK_VARIANT_ON; /* the default serve of a boolean rule */
    } else {
      next_serve(in, m->type, &rule->serve);
      CHECK_EQ(apply_serve(flag, SK_SERVE_RULE, &rule->serve), SK_OK);
    }
  }
  *out = flag;
  return SK_OK;
}

static void check_typed_evaluation(input *in, const sk_store *store, int32_t mode,
                                   const model_flag *held, const char *flag_key, bool unknown) {
  const text user = next_text(in);
  typed_attribute_model models[MAX_ATTRS];
  sk_typed_attribute attrs[MAX_ATTRS];
  const size_t count = next(in) % (MAX_ATTRS + 1);
  for (size_t i = 0; i < count; i++) {
    typed_attribute_model *a = &models[i];
    a->name = next(in) % 3;
    a->kind = next(in) % 4;
    a->text = next(in) % POOLED;
    a->number = attribute_numbers[next(in) % (sizeof attribute_numbers / sizeof(double))];
    if (a->kind == SK_VALUE_BOOL) {
      a->number = next(in) % 2;
    }
    const char *name = names[a->name];
    const char *value = a->kind == SK_VALUE_TEXT ? pool_values[a->text].text : NULL;
    attrs[i] = (sk_typed_attribute){
        name, strlen(name), value, value != NULL ? strlen(value) : 0, a->number, a->kind, 0};
  }
  const sk_typed_evaluation want =
      model_typed_evaluate(unknown ? NULL : held, flag_key, &user, models, count);
  sk_typed_evaluation got;
  CHECK_EQ(sk_store_evaluate_typed(store, flag_key, strlen(flag_key), user.bytes, user.len, attrs,
                                   count, &got),
           SK_OK);
  CHECK_EQ(got.variant, want.variant);
  CHECK_EQ(got.enabled, want.enabled);
  CHECK_EQ(got.reason, want.reason);
  CHECK_EQ(got.rule_index, want.rule_index);
  CHECK_EQ(got.bucket, want.bucket);
  CHECK_EQ(got.version, want.version);
  CHECK_EQ(got.type, want.type);
  if (mode == SK_STORE_SINGLE_THREADED) {
    const sk_flag *handle = sk_store_find(store, flag_key, strlen(flag_key));
    sk_typed_evaluation by_handle;
    CHECK_EQ(sk_flag_evaluate_typed(handle, user.bytes, user.len, attrs, count, &by_handle), SK_OK);
    CHECK(memcmp(&by_handle, &got, sizeof got) == 0);
  }
  /* Without attributes, the version 1 entry point agrees with the typed one. */
  const sk_typed_evaluation bare =
      model_typed_evaluate(unknown ? NULL : held, flag_key, &user, NULL, 0);
  CHECK_EQ(sk_store_is_enabled(store, flag_key, strlen(flag_key), user.bytes, user.len, NULL, 0),
           bare.enabled);
}

static void run_input(const uint8_t *data, size_t size) {
  input in = {data, size};
  pool.count = 0;
  const int32_t mode = next(&in) % 2;
  sk_store *store = sk_store_new(mode);
  model_flag model[KEYS];
  memset(model, 0, sizeof model);

  while (in.size > 0) {
    const size_t key = next(&in) % KEYS;
    model_flag *held = &model[key];
    switch (next(&in) % 5) {
    case 0:
    case 1: { /* upsert */
      model_flag incoming;
      sk_flag *flag = NULL;
      const bool typed = next(&in) % 3 == 0;
      if ((typed ? build_typed(&in, key, &incoming, &flag) : build(&in, key, &incoming, &flag)) !=
          SK_OK) {
        break;
      }
      const bool has_version = held->present || held->tombstone;
      const bool stale = incoming.version != 0 && has_version && held->version != 0 &&
                         incoming.version <= held->version;
      CHECK_EQ(sk_store_upsert(store, flag), stale ? SK_IGNORED_STALE : SK_OK);
      if (!stale) {
        incoming.present = true;
        *held = incoming;
      }
      break;
    }
    case 2: { /* remove */
      const uint64_t version = next(&in) % 6;
      const int32_t status = sk_store_remove(store, keys[key], strlen(keys[key]), version);
      if (held->present) {
        const bool stale = version != 0 && held->version != 0 && version <= held->version;
        CHECK_EQ(status, stale ? SK_IGNORED_STALE : SK_OK);
        if (!stale) {
          held->present = false;
          held->tombstone = version != 0;
          held->version = version;
        }
      } else {
        CHECK_EQ(status, SK_ERR_NOT_FOUND);
        if (version != 0 && (!held->tombstone || version > held->version)) {
          held->tombstone = true;
          held->version = version;
        }
      }
      break;
    }
    case 3: /* clear, rarely */
      if (next(&in) % 8 == 0) {
        sk_store_clear(store);
        memset(model, 0, sizeof model);
      }
      break;
    default: { /* evaluate */
      if (held->typed && held->present) {
        const bool unknown = next(&in) % 8 == 0;
        check_typed_evaluation(&in, store, mode, held, unknown ? "zz" : keys[key], unknown);
        break;
      }
      const text user = next_text(&in);
      sk_attribute attrs[MAX_ATTRS];
      attribute_text values[MAX_ATTRS];
      const size_t count = next(&in) % (MAX_ATTRS + 1);
      for (size_t i = 0; i < count; i++) {
        const char *name = names[next(&in) % 3];
        values[i] = next_attribute_text(&in);
        attrs[i] = (sk_attribute){name, strlen(name), values[i].bytes, values[i].len};
      }
      const bool unknown = next(&in) % 8 == 0;
      const char *flag_key = unknown ? "zz" : keys[key];
      const sk_evaluation want =
          model_evaluate(unknown ? NULL : held, flag_key, &user, attrs, count);
      sk_evaluation got;
      CHECK_EQ(sk_store_evaluate(store, flag_key, strlen(flag_key), user.bytes, user.len, attrs,
                                 count, &got),
               SK_OK);
      CHECK_EQ(got.enabled, want.enabled);
      CHECK_EQ(got.reason, want.reason);
      CHECK_EQ(got.rule_index, want.rule_index);
      CHECK_EQ(got.bucket, want.bucket);
      CHECK_EQ(got.version, want.version);
      CHECK_EQ(sk_store_is_enabled(store, flag_key, strlen(flag_key), user.bytes, user.len, attrs,
                                   count),
               want.enabled);
      if (mode == SK_STORE_SINGLE_THREADED) {
        const sk_flag *handle = sk_store_find(store, flag_key, strlen(flag_key));
        CHECK_EQ(handle != NULL, want.reason != SK_REASON_FLAG_NOT_FOUND);
        sk_evaluation by_handle;
        CHECK_EQ(sk_flag_evaluate(handle, user.bytes, user.len, attrs, count, &by_handle), SK_OK);
        CHECK(memcmp(&by_handle, &got, sizeof got) == 0);
      }
      break;
    }
    }
    CHECK_EQ(sk_store_count(store), model_count(model));
    for (int i = 0; i < KEYS; i++) {
      CHECK_EQ(sk_store_version(store, keys[i], strlen(keys[i])),
               model[i].present ? model[i].version : 0);
    }
  }
  sk_store_free(store);
}

#ifdef SK_LIBFUZZER

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run_input(data, size);
  if (harness.current_failures != 0) {
    abort(); /* a disagreement with the model: let libFuzzer save the input */
  }
  return 0;
}

#else

enum { INPUTS = 20000, INPUT_BYTES = 512 };

static uint64_t xorshift64(uint64_t x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

static void test_random_inputs_agree_with_model(void) {
  uint8_t data[INPUT_BYTES];
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int n = 0; n < INPUTS && harness.current_failures == 0; n++) {
    x = xorshift64(x);
    const size_t size = (size_t)(x % INPUT_BYTES);
    for (size_t i = 0; i < size; i++) {
      x = xorshift64(x);
      data[i] = (uint8_t)(x >> 24);
    }
    run_input(data, size);
  }
}

int main(void) {
  RUN(test_random_inputs_agree_with_model);
  return harness_finish();
}

#endif
