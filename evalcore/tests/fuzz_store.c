/*
 * fuzz_store.c — differential fuzzing: random sequences of flag builds, upserts, removes, clears
 * and evaluations run against the core and against a deliberately naive model of the contract
 * (linear scans, the bucket hashed from the concatenated string); any disagreement, crash or
 * sanitizer report is a bug. Some rules get many values, or values longer than 32 bytes, so the
 * core answers them with its text matchers while the model still compares value by value.
 * Built with -DSK_TEXT_MATCHER_DENSE_BASE_CELLS=0 -DSK_TEXT_MATCHER_DENSE_CELLS_PER_BYTE=0, the
 * matchers keep a full row for the root only, so Contains runs on failure links everywhere else.
 *
 * Built as a libFuzzer target with -DSK_LIBFUZZER (clang -fsanitize=fuzzer); otherwise a main()
 * feeds it a fixed number of pseudo-random inputs so that any compiler can run it.
 */
#include <stdint.h>
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

typedef struct model_flag {
  bool present;
  bool tombstone; /* a remembered versioned delete */
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
    rule->op = next(in) % 6; /* 5 is not an operator */
    status = sk_flag_add_rule(flag, names[rule->name], strlen(names[rule->name]), rule->op);
    if (status != SK_OK) {
      CHECK_EQ(status, SK_ERR_BAD_OPERATOR);
      CHECK_EQ(rule->op, 5);
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
      if (build(&in, key, &incoming, &flag) != SK_OK) {
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
