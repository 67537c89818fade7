/*
 * test_core.c — single-threaded tests of the whole public API in sidekick.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "sidekick.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static sk_attribute attr(const char *name, const char *value) {
  sk_attribute a = {name, strlen(name), value, strlen(value)};
  return a;
}

static sk_flag *new_flag(const char *key, bool enabled, int32_t rollout, uint64_t version) {
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(S(key), enabled, rollout, version, &flag), SK_OK);
  return flag;
}

/* Adds a rule and its values (a NULL-terminated list). */
static void add_rule(sk_flag *flag, const char *attribute, int32_t op, const char *const *values) {
  CHECK_EQ(sk_flag_add_rule(flag, S(attribute), op), SK_OK);
  for (; values != NULL && *values != NULL; values++) {
    CHECK_EQ(sk_flag_add_value(flag, S(*values)), SK_OK);
  }
}

static sk_evaluation evaluate(const sk_store *store, const char *flag, const char *user,
                              const sk_attribute *attributes, size_t count) {
  sk_evaluation out;
  memset(&out, 0x55, sizeof out);
  CHECK_EQ(sk_store_evaluate(store, S(flag), S(user), attributes, count, &out), SK_OK);
  CHECK_EQ(sk_store_is_enabled(store, S(flag), S(user), attributes, count), out.enabled);
  return out;
}

/* Stores a one-rule flag (enabled, rollout 0 so only the rule can turn it on) and returns whether
 * the rule matched the attribute given. */
static bool rule_matches(int32_t op, const char *const *values, const char *name,
                         const char *value) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", true, 0, 1);
  add_rule(flag, "attr", op, values);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute a = attr(name, value);
  const sk_evaluation e = evaluate(store, "f", "u", &a, 1);
  CHECK(e.reason == (e.enabled ? SK_REASON_RULE_MATCH : SK_REASON_ROLLOUT));
  sk_store_free(store);
  return e.enabled == 1;
}

/* An independent, deliberately plain MurmurHash3 x86_32 to check the optimised one against. */
static uint32_t reference_murmur3(const unsigned char *data, size_t len, uint32_t seed) {
  const uint32_t c1 = 0xcc9e2d51u;
  const uint32_t c2 = 0x1b873593u;
  uint32_t h = seed;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                 (uint32_t)data[i + 3] << 24;
    k *= c1;
    k = (k << 15) | (k >> 17);
    k *= c2;
    h ^= k;
    h = (h << 13) | (h >> 19);
    h = h * 5 + 0xe6546b64u;
  }
  uint32_t k = 0;
  for (size_t shift = 0; i < len; i++, shift += 8) {
    k |= (uint32_t)data[i] << shift;
  }
  if (len % 4 != 0) {
    k *= c1;
    k = (k << 15) | (k >> 17);
    k *= c2;
    h ^= k;
  }
  h ^= (uint32_t)len;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* ---- versions and names ------------------------------------------------------------------ */

static void test_abi_version_and_names(void) {
  CHECK_EQ(sk_abi_version(), SK_ABI_VERSION);
  CHECK(strcmp(sk_status_name(SK_OK), "SK_OK") == 0);
  CHECK(strcmp(sk_status_name(SK_IGNORED_STALE), "SK_IGNORED_STALE") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_NOMEM), "SK_ERR_NOMEM") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_INVALID_ARGUMENT), "SK_ERR_INVALID_ARGUMENT") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_BAD_KEY), "SK_ERR_BAD_KEY") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_BAD_ROLLOUT), "SK_ERR_BAD_ROLLOUT") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_BAD_OPERATOR), "SK_ERR_BAD_OPERATOR") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_BAD_ATTRIBUTE), "SK_ERR_BAD_ATTRIBUTE") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_TOO_MANY_RULES), "SK_ERR_TOO_MANY_RULES") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_TOO_MANY_VALUES), "SK_ERR_TOO_MANY_VALUES") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_NO_RULE), "SK_ERR_NO_RULE") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_NOT_FOUND), "SK_ERR_NOT_FOUND") == 0);
  CHECK(strcmp(sk_status_name(2), "SK_UNKNOWN") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_INCOMPLETE), "SK_ERR_INCOMPLETE") == 0);
  CHECK(strcmp(sk_status_name(SK_ERR_BAD_VALUE), "SK_ERR_BAD_VALUE") == 0);
  CHECK(strcmp(sk_status_name(-17), "SK_UNKNOWN") == 0);
  CHECK(strcmp(sk_reason_name(SK_REASON_FLAG_NOT_FOUND), "FLAG_NOT_FOUND") == 0);
  CHECK(strcmp(sk_reason_name(SK_REASON_OFF), "OFF") == 0);
  CHECK(strcmp(sk_reason_name(SK_REASON_RULE_MATCH), "RULE_MATCH") == 0);
  CHECK(strcmp(sk_reason_name(SK_REASON_ROLLOUT), "ROLLOUT") == 0);
  CHECK(strcmp(sk_reason_name(4), "UNKNOWN") == 0);
  CHECK(strcmp(sk_reason_name(-1), "UNKNOWN") == 0);
}

static void test_operator_parse(void) {
  CHECK_EQ(sk_operator_parse(S("Equals")), SK_OP_EQUALS);
  CHECK_EQ(sk_operator_parse(S("NotEquals")), SK_OP_NOT_EQUALS);
  CHECK_EQ(sk_operator_parse(S("Contains")), SK_OP_CONTAINS);
  CHECK_EQ(sk_operator_parse(S("StartsWith")), SK_OP_STARTS_WITH);
  CHECK_EQ(sk_operator_parse(S("EndsWith")), SK_OP_ENDS_WITH);
  CHECK_EQ(sk_operator_parse(S("equals")), -1);
  CHECK_EQ(sk_operator_parse(S("Equal")), -1);
  CHECK_EQ(sk_operator_parse(S("Equalss")), -1);
  CHECK_EQ(sk_operator_parse(S("")), -1);
  CHECK_EQ(sk_operator_parse(NULL, 0), -1);
  CHECK_EQ(sk_operator_parse(NULL, 6), -1);
  /* Only the given bytes count: a longer buffer with the name as its prefix is that name. */
  CHECK_EQ(sk_operator_parse("EndsWithXYZ", 8), SK_OP_ENDS_WITH);
}

/* ---- hashing ------------------------------------------------------------------------------- */

static void test_murmur_published_values(void) {
  CHECK_EQ(sk_murmur3_32(NULL, 0, 0), 0u);
  CHECK_EQ(sk_murmur3_32("", 0, 0), 0u);
  CHECK_EQ(sk_murmur3_32("", 0, 1), 0x514E28B7u);
  CHECK_EQ(sk_murmur3_32(S("hello"), 0), 0x248BFA47u);
  CHECK_EQ(sk_murmur3_32(S("Hello, world!"), 1234), 0xFAF6CDB3u);
  CHECK_EQ(sk_murmur3_32(S("a"), 0), 0x3C2569B2u);
  CHECK_EQ(sk_murmur3_32(S("ab"), 0), 0x9BBFD75Fu);
  CHECK_EQ(sk_murmur3_32(S("abc"), 0), 0xB3DD93FAu);
  CHECK_EQ(sk_murmur3_32(S("abcd"), 0), 0x43ED676Au);
  CHECK_EQ(sk_murmur3_32(S("abcde"), 0), 0xE89B9AF6u);
  CHECK_EQ(sk_murmur3_32("\xff\xfe\xfd", 3, 7), 0xA2F1E08Eu);
  CHECK_EQ(sk_murmur3_32("\xff\xff\xff\xff", 4, 0), 0x76293B50u);
  CHECK_EQ(sk_murmur3_32(S("\xc3\xa9\xf0\x9f\x98\x80"), 0), 0xDBA66B08u); /* "é😀" */
  CHECK_EQ(sk_murmur3_32(S("dark_mode:user-42"), 0), 0x754CC92Du);
}

static void test_murmur_every_tail_length_and_alignment(void) {
  unsigned char buffer[80];
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < sizeof buffer; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buffer[i] = (unsigned char)x;
  }
  const uint32_t seeds[] = {0, 1, 0x9747b28cu, 0xffffffffu};
  for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
    for (size_t offset = 0; offset < 4; offset++) { /* misaligned starts too */
      for (size_t len = 0; len + offset <= 72; len++) {
        CHECK_EQ(sk_murmur3_32(buffer + offset, len, seeds[s]),
                 reference_murmur3(buffer + offset, len, seeds[s]));
      }
    }
  }
}

static void test_bucket_is_hash_of_concatenation(void) {
  const char *flags[] = {"f", "ab", "abc", "dark_mode", "new-checkout.v2", "k123"};
  const char *users[] = {"",      "u",        "user-42", "\xc3\xa9\xf0\x9f\x98\x80",
                         "12345", "a:b:c:d:", "x y z"};
  char joined[256];
  for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
      const int n = snprintf(joined, sizeof joined, "%s:%s", flags[f], users[u]);
      CHECK_EQ(sk_bucket(S(flags[f]), S(users[u])), sk_murmur3_32(joined, (size_t)n, 0) % 100);
    }
  }
  CHECK_EQ(sk_bucket(S("dark_mode"), S("user-42")), 0x754CC92Du % 100);
  CHECK_EQ(sk_bucket(NULL, 0, NULL, 0), sk_murmur3_32(":", 1, 0) % 100);
}

/* ---- building flags -------------------------------------------------------------------------- */

static void test_flag_new_validates_key(void) {
  sk_flag *flag = (sk_flag *)&flag; /* any non-NULL value, to see it reset to NULL */
  CHECK_EQ(sk_flag_new(S(""), true, -1, 0, &flag), SK_ERR_BAD_KEY);
  CHECK(flag == NULL);
  CHECK_EQ(sk_flag_new(NULL, 0, true, -1, 0, &flag), SK_ERR_BAD_KEY);
  CHECK_EQ(sk_flag_new(NULL, 3, true, -1, 0, &flag), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_new(S("ok"), true, -1, 0, NULL), SK_ERR_INVALID_ARGUMENT);

  const char *bad[] = {"_lead",       "-lead", ".lead",  "has space", "sl/ash",
                       "caf\xc3\xa9", "tab\t", "colon:", "plus+",     "at@"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_EQ(sk_flag_new(S(bad[i]), true, -1, 0, &flag), SK_ERR_BAD_KEY);
  }
  /* An embedded NUL is just an invalid byte: lengths, not terminators, define strings. */
  CHECK_EQ(sk_flag_new("nul\0x", 5, true, -1, 0, &flag), SK_ERR_BAD_KEY);

  const char *good[] = {"a", "Z", "0", "9lives", "dark_mode", "a-b.c_d", "ABC.xyz-09_"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECK_EQ(sk_flag_new(S(good[i]), true, -1, 0, &flag), SK_OK);
    CHECK(flag != NULL);
    sk_flag_free(flag);
  }

  char longest[SK_MAX_KEY_BYTES + 1];
  memset(longest, 'k', sizeof longest);
  CHECK_EQ(sk_flag_new(longest, SK_MAX_KEY_BYTES, true, -1, 0, &flag), SK_OK);
  sk_flag_free(flag);
  CHECK_EQ(sk_flag_new(longest, SK_MAX_KEY_BYTES + 1, true, -1, 0, &flag), SK_ERR_BAD_KEY);
  CHECK(flag == NULL);
}

static void test_flag_new_validates_rollout(void) {
  sk_flag *flag = NULL;
  const int32_t bad[] = {-2, 101, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_EQ(sk_flag_new(S("f"), true, bad[i], 0, &flag), SK_ERR_BAD_ROLLOUT);
    CHECK(flag == NULL);
  }
  const int32_t good[] = {-1, 0, 1, 50, 99, 100};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECK_EQ(sk_flag_new(S("f"), false, good[i], UINT64_MAX, &flag), SK_OK);
    sk_flag_free(flag);
  }
  /* The key is checked before the rollout. */
  CHECK_EQ(sk_flag_new(S(""), true, 500, 0, &flag), SK_ERR_BAD_KEY);
}

static void test_flag_add_rule_errors(void) {
  CHECK_EQ(sk_flag_add_rule(NULL, S("email"), SK_OP_EQUALS), SK_ERR_INVALID_ARGUMENT);
  sk_flag *flag = new_flag("f", true, 0, 0);
  CHECK_EQ(sk_flag_add_rule(flag, NULL, 5, SK_OP_EQUALS), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_add_rule(flag, NULL, 0, SK_OP_EQUALS), SK_ERR_BAD_ATTRIBUTE);
  CHECK_EQ(sk_flag_add_rule(flag, S(""), SK_OP_EQUALS), SK_ERR_BAD_ATTRIBUTE);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), -1), SK_ERR_BAD_OPERATOR);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_SEMVER_LT + 1), SK_ERR_BAD_OPERATOR);
  for (int i = 0; i < SK_MAX_RULES; i++) {
    CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK);
  }
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_ERR_TOO_MANY_RULES);
  /* The failed calls added nothing: the last rule (index 99) still receives values. */
  CHECK_EQ(sk_flag_add_value(flag, S("pro")), SK_OK);
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute a = attr("plan", "pro");
  const sk_evaluation e = evaluate(store, "f", "u", &a, 1);
  CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
  CHECK_EQ(e.rule_index, SK_MAX_RULES - 1);
  sk_store_free(store);
}

static void test_flag_add_value_errors(void) {
  CHECK_EQ(sk_flag_add_value(NULL, S("x")), SK_ERR_INVALID_ARGUMENT);
  sk_flag *flag = new_flag("f", true, 0, 0);
  CHECK_EQ(sk_flag_add_value(flag, S("x")), SK_ERR_NO_RULE);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, NULL, 1), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_add_value(flag, NULL, 0), SK_OK); /* the empty string */
  char value[8];
  for (int i = 1; i < SK_MAX_VALUES_PER_RULE; i++) {
    const int n = snprintf(value, sizeof value, "v%d", i);
    CHECK_EQ(sk_flag_add_value(flag, value, (size_t)n), SK_OK);
  }
  CHECK_EQ(sk_flag_add_value(flag, S("one-too-many")), SK_ERR_TOO_MANY_VALUES);
  /* A new rule starts its own count. */
  CHECK_EQ(sk_flag_add_rule(flag, S("country"), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("one-too-many")), SK_OK);

  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute rejected = attr("plan", "one-too-many");
  CHECK_EQ(evaluate(store, "f", "u", &rejected, 1).enabled, 0);
  sk_attribute accepted = attr("country", "one-too-many");
  CHECK_EQ(evaluate(store, "f", "u", &accepted, 1).rule_index, 1);
  sk_attribute empty = attr("plan", "");
  CHECK_EQ(evaluate(store, "f", "u", &empty, 1).rule_index, 0);
  sk_store_free(store);
}

static void test_flag_free_null_and_unused(void) {
  sk_flag_free(NULL);
  sk_flag *flag = new_flag("f", true, 50, 3);
  const char *values[] = {"a", "b", NULL};
  add_rule(flag, "plan", SK_OP_CONTAINS, values);
  sk_flag_free(flag); /* never stored: LeakSanitizer proves everything went */
}

/* ---- operators ----------------------------------------------------------------------------- */

static void test_equals(void) {
  const char *values[] = {"pro", "team", NULL};
  CHECK(rule_matches(SK_OP_EQUALS, values, "attr", "pro"));
  CHECK(rule_matches(SK_OP_EQUALS, values, "attr", "team"));
  CHECK(!rule_matches(SK_OP_EQUALS, values, "attr", "Pro"));
  CHECK(!rule_matches(SK_OP_EQUALS, values, "attr", "pro "));
  CHECK(!rule_matches(SK_OP_EQUALS, values, "attr", "pr"));
  CHECK(!rule_matches(SK_OP_EQUALS, values, "attr", ""));
  const char *none[] = {NULL};
  CHECK(!rule_matches(SK_OP_EQUALS, none, "attr", ""));
  CHECK(!rule_matches(SK_OP_EQUALS, none, "attr", "pro"));
  const char *empty[] = {"", NULL};
  CHECK(rule_matches(SK_OP_EQUALS, empty, "attr", ""));
  CHECK(!rule_matches(SK_OP_EQUALS, empty, "attr", "x"));
}

static void test_not_equals(void) {
  const char *values[] = {"free", "trial", NULL};
  CHECK(rule_matches(SK_OP_NOT_EQUALS, values, "attr", "pro"));
  CHECK(rule_matches(SK_OP_NOT_EQUALS, values, "attr", ""));
  CHECK(rule_matches(SK_OP_NOT_EQUALS, values, "attr", "Free"));
  CHECK(!rule_matches(SK_OP_NOT_EQUALS, values, "attr", "free"));
  CHECK(!rule_matches(SK_OP_NOT_EQUALS, values, "attr", "trial"));
  /* Equal to none of zero values: every present attribute matches... */
  const char *none[] = {NULL};
  CHECK(rule_matches(SK_OP_NOT_EQUALS, none, "attr", "anything"));
  CHECK(rule_matches(SK_OP_NOT_EQUALS, none, "attr", ""));
  /* ...but a missing one never does. */
  CHECK(!rule_matches(SK_OP_NOT_EQUALS, none, "other", "anything"));
  CHECK(!rule_matches(SK_OP_NOT_EQUALS, values, "other", "pro"));
  const char *empty[] = {"", NULL};
  CHECK(!rule_matches(SK_OP_NOT_EQUALS, empty, "attr", ""));
  CHECK(rule_matches(SK_OP_NOT_EQUALS, empty, "attr", "x"));
}

static void test_contains(void) {
  const char *values[] = {"acme", "beta", NULL};
  CHECK(rule_matches(SK_OP_CONTAINS, values, "attr", "acme"));
  CHECK(rule_matches(SK_OP_CONTAINS, values, "attr", "x@acme.com"));
  CHECK(rule_matches(SK_OP_CONTAINS, values, "attr", "prefix-beta"));
  CHECK(rule_matches(SK_OP_CONTAINS, values, "attr", "aacmeacme"));
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", "acm"));
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", "ACME"));
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", "a c m e"));
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", ""));
  const char *repeats[] = {"aab", NULL}; /* a false start right before the real match */
  CHECK(rule_matches(SK_OP_CONTAINS, repeats, "attr", "aaab"));
  CHECK(!rule_matches(SK_OP_CONTAINS, repeats, "attr", "ababab"));
  const char *none[] = {NULL};
  CHECK(!rule_matches(SK_OP_CONTAINS, none, "attr", "x"));
  const char *empty[] = {"", NULL};
  CHECK(rule_matches(SK_OP_CONTAINS, empty, "attr", ""));
  CHECK(rule_matches(SK_OP_CONTAINS, empty, "attr", "anything"));
}

static void test_starts_with(void) {
  const char *values[] = {"admin-", "ops", NULL};
  CHECK(rule_matches(SK_OP_STARTS_WITH, values, "attr", "admin-1"));
  CHECK(rule_matches(SK_OP_STARTS_WITH, values, "attr", "admin-"));
  CHECK(rule_matches(SK_OP_STARTS_WITH, values, "attr", "ops"));
  CHECK(!rule_matches(SK_OP_STARTS_WITH, values, "attr", "xadmin-1"));
  CHECK(!rule_matches(SK_OP_STARTS_WITH, values, "attr", "admin"));
  CHECK(!rule_matches(SK_OP_STARTS_WITH, values, "attr", ""));
  const char *empty[] = {"", NULL};
  CHECK(rule_matches(SK_OP_STARTS_WITH, empty, "attr", ""));
  CHECK(rule_matches(SK_OP_STARTS_WITH, empty, "attr", "x"));
  const char *none[] = {NULL};
  CHECK(!rule_matches(SK_OP_STARTS_WITH, none, "attr", "x"));
}

static void test_ends_with(void) {
  const char *values[] = {"@acme.com", "@acme.org", NULL};
  CHECK(rule_matches(SK_OP_ENDS_WITH, values, "attr", "jane@acme.com"));
  CHECK(rule_matches(SK_OP_ENDS_WITH, values, "attr", "@acme.org"));
  CHECK(!rule_matches(SK_OP_ENDS_WITH, values, "attr", "jane@acme.com.evil"));
  CHECK(!rule_matches(SK_OP_ENDS_WITH, values, "attr", "jane@ACME.com"));
  CHECK(!rule_matches(SK_OP_ENDS_WITH, values, "attr", "acme.com"));
  CHECK(!rule_matches(SK_OP_ENDS_WITH, values, "attr", ""));
  const char *empty[] = {"", NULL};
  CHECK(rule_matches(SK_OP_ENDS_WITH, empty, "attr", ""));
  const char *none[] = {NULL};
  CHECK(!rule_matches(SK_OP_ENDS_WITH, none, "attr", "x"));
}

static void test_unicode_is_compared_as_bytes(void) {
  const char *composed[] = {"caf\xc3\xa9", NULL}; /* café, U+00E9 */
  CHECK(rule_matches(SK_OP_EQUALS, composed, "attr", "caf\xc3\xa9"));
  CHECK(!rule_matches(SK_OP_EQUALS, composed, "attr", "cafe\xcc\x81")); /* e + U+0301 */
  CHECK(!rule_matches(SK_OP_EQUALS, composed, "attr", "CAF\xc3\x89"));
  const char *emoji[] = {"\xf0\x9f\x98\x80", NULL};
  CHECK(rule_matches(SK_OP_CONTAINS, emoji, "attr", "hi \xf0\x9f\x98\x80!"));
  CHECK(rule_matches(SK_OP_ENDS_WITH, emoji, "attr", "\xf0\x9f\x98\x80"));
  /* Attribute names are bytes too. */
  CHECK(rule_matches(SK_OP_EQUALS, composed, "attr", "caf\xc3\xa9"));
  CHECK(!rule_matches(SK_OP_EQUALS, composed, "Attr", "caf\xc3\xa9"));

  /* Values and attributes may hold NUL bytes. */
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", true, 0, 1);
  CHECK_EQ(sk_flag_add_rule(flag, "a\0b", 3, SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, "x\0y", 3), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute nul = {"a\0b", 3, "x\0y", 3};
  CHECK_EQ(evaluate(store, "f", "u", &nul, 1).enabled, 1);
  sk_attribute short_name = {"a", 1, "x\0y", 3};
  CHECK_EQ(evaluate(store, "f", "u", &short_name, 1).enabled, 0);
  sk_attribute short_value = {"a\0b", 3, "x", 1};
  CHECK_EQ(evaluate(store, "f", "u", &short_value, 1).enabled, 0);
  sk_store_free(store);
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static void test_attributes_missing_and_duplicated(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", true, 0, 4);
  const char *pro[] = {"pro", NULL};
  add_rule(flag, "plan", SK_OP_EQUALS, pro);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);

  sk_evaluation e = evaluate(store, "f", "u", NULL, 0);
  CHECK_EQ(e.enabled, 0);
  CHECK_EQ(e.reason, SK_REASON_ROLLOUT);
  CHECK_EQ(e.rule_index, -1);

  sk_attribute other[] = {attr("country", "pro"), attr("email", "pro")};
  CHECK_EQ(evaluate(store, "f", "u", other, 2).enabled, 0);

  sk_attribute first_counts[] = {attr("plan", "free"), attr("plan", "pro")};
  CHECK_EQ(evaluate(store, "f", "u", first_counts, 2).enabled, 0);
  sk_attribute first_matches[] = {attr("country", "de"), attr("plan", "pro"), attr("plan", "x")};
  e = evaluate(store, "f", "u", first_matches, 3);
  CHECK_EQ(e.enabled, 1);
  CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
  CHECK_EQ(e.rule_index, 0);
  CHECK_EQ(e.bucket, -1);
  CHECK_EQ(e.version, 4);
  sk_store_free(store);
}

static void test_first_matching_rule_wins(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", true, 0, 1);
  const char *de[] = {"de", NULL};
  const char *acme[] = {"@acme.com", NULL};
  const char *any[] = {"", NULL};
  add_rule(flag, "country", SK_OP_EQUALS, de);
  add_rule(flag, "email", SK_OP_ENDS_WITH, acme);
  add_rule(flag, "email", SK_OP_CONTAINS, any);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);

  sk_attribute both[] = {attr("email", "a@acme.com"), attr("country", "de")};
  CHECK_EQ(evaluate(store, "f", "u", both, 2).rule_index, 0);
  sk_attribute email[] = {attr("email", "a@acme.com"), attr("country", "fr")};
  CHECK_EQ(evaluate(store, "f", "u", email, 2).rule_index, 1);
  sk_attribute other[] = {attr("email", "a@b.c")};
  CHECK_EQ(evaluate(store, "f", "u", other, 1).rule_index, 2);
  sk_store_free(store);
}

static void test_kill_switch_beats_rules(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", false, 100, 9);
  const char *pro[] = {"pro", NULL};
  add_rule(flag, "plan", SK_OP_EQUALS, pro);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute a = attr("plan", "pro");
  const sk_evaluation e = evaluate(store, "f", "u", &a, 1);
  CHECK_EQ(e.enabled, 0);
  CHECK_EQ(e.reason, SK_REASON_OFF);
  CHECK_EQ(e.rule_index, -1);
  CHECK_EQ(e.bucket, -1);
  CHECK_EQ(e.version, 9);
  sk_store_free(store);
}

static void test_rollout_percentages(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  const struct {
    const char *key;
    int32_t rollout;
  } flags[] = {{"null", -1}, {"zero", 0}, {"one", 1}, {"half", 50}, {"most", 99}, {"all", 100}};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    CHECK_EQ(sk_store_upsert(store, new_flag(flags[i].key, true, flags[i].rollout, 2)), SK_OK);
  }
  int enabled_half = 0;
  int enabled_one = 0;
  int enabled_most = 0;
  char user[32];
  for (int n = 0; n < 2000; n++) {
    const int len = snprintf(user, sizeof user, "user-%d", n);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
      const sk_evaluation e = evaluate(store, flags[i].key, user, NULL, 0);
      CHECK_EQ(e.reason, SK_REASON_ROLLOUT);
      CHECK_EQ(e.version, 2);
      CHECK_EQ(e.rule_index, -1);
      const int32_t r = flags[i].rollout;
      if (r == -1 || r == 100) {
        CHECK_EQ(e.enabled, 1);
        CHECK_EQ(e.bucket, -1);
      } else if (r == 0) {
        CHECK_EQ(e.enabled, 0);
        CHECK_EQ(e.bucket, -1);
      } else {
        const uint32_t bucket = sk_bucket(S(flags[i].key), user, (size_t)len);
        CHECK_EQ(e.bucket, bucket);
        CHECK_EQ(e.enabled, bucket < (uint32_t)r);
        enabled_one += r == 1 && e.enabled;
        enabled_half += r == 50 && e.enabled;
        enabled_most += r == 99 && e.enabled;
      }
    }
  }
  /* The hash spreads users: loose bounds that a broken bucket would miss by far. */
  CHECK(enabled_one > 0 && enabled_one < 80);
  CHECK(enabled_half > 850 && enabled_half < 1150);
  CHECK(enabled_most > 1900 && enabled_most < 2000);
  /* An empty user key is a user like any other. */
  const sk_evaluation e = evaluate(store, "half", "", NULL, 0);
  CHECK_EQ(e.bucket, sk_bucket(S("half"), NULL, 0));
  sk_store_free(store);
}

static void test_rule_before_rollout_at_zero(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("beta", true, 0, 1);
  const char *acme[] = {"@acme.com", NULL};
  add_rule(flag, "email", SK_OP_ENDS_WITH, acme);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_attribute staff = attr("email", "jane@acme.com");
  sk_evaluation e = evaluate(store, "beta", "jane", &staff, 1);
  CHECK_EQ(e.enabled, 1);
  CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
  CHECK_EQ(e.rule_index, 0);
  sk_attribute outsider = attr("email", "joe@example.com");
  e = evaluate(store, "beta", "joe", &outsider, 1);
  CHECK_EQ(e.enabled, 0);
  CHECK_EQ(e.reason, SK_REASON_ROLLOUT);
  CHECK_EQ(e.bucket, -1);
  sk_store_free(store);
}

static void test_large_value_lists(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("big", true, 0, 1);
  CHECK_EQ(sk_flag_add_rule(flag, S("user"), SK_OP_EQUALS), SK_OK);
  char value[32];
  /* Inserted in descending order so the sort has real work to do. */
  for (int i = SK_MAX_VALUES_PER_RULE - 1; i >= 0; i--) {
    const int n = snprintf(value, sizeof value, "user-%d", i * 7);
    CHECK_EQ(sk_flag_add_value(flag, value, (size_t)n), SK_OK);
  }
  CHECK_EQ(sk_flag_add_rule(flag, S("team"), SK_OP_NOT_EQUALS), SK_OK);
  for (int i = 0; i < SK_MAX_VALUES_PER_RULE; i++) {
    const int n = snprintf(value, sizeof value, "team-%d", i);
    CHECK_EQ(sk_flag_add_value(flag, value, (size_t)n), SK_OK);
  }
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);

  for (int i = 0; i < SK_MAX_VALUES_PER_RULE * 7; i++) {
    const int n = snprintf(value, sizeof value, "user-%d", i);
    sk_attribute a = {"user", 4, value, (size_t)n};
    CHECK_EQ(sk_store_is_enabled(store, S("big"), S("u"), &a, 1), i % 7 == 0);
  }
  sk_attribute inside = attr("team", "team-9999");
  CHECK_EQ(evaluate(store, "big", "u", &inside, 1).enabled, 0);
  sk_attribute outside = attr("team", "team-10000");
  sk_evaluation e = evaluate(store, "big", "u", &outside, 1);
  CHECK_EQ(e.enabled, 1);
  CHECK_EQ(e.rule_index, 1);
  sk_store_free(store);
}

/* ---- many-value text rules (the text matchers) ------------------------------------------- */

/* Whether a rule with the given values plus eight fillers that never match (so that the core
 * answers it with a text matcher rather than its loop over few values) matches value. */
static bool many_rule_matches(int32_t op, const char *const *values, const char *value) {
  const char *all[64];
  size_t n = 0;
  for (; values[n] != NULL; n++) {
    all[n] = values[n];
  }
  static const char *const fillers[] = {"\x01q1", "\x01q2", "\x01q3", "\x01q4",
                                        "\x01q5", "\x01q6", "\x01q7", "\x01q8"};
  for (size_t i = 0; i < 8; i++) {
    all[n++] = fillers[i];
  }
  all[n] = NULL;
  return rule_matches(op, all, "attr", value);
}

static void test_many_value_contains(void) {
  const char *overlapping[] = {"he", "she", "his", "hers", NULL};
  CHECK(many_rule_matches(SK_OP_CONTAINS, overlapping, "ushers"));
  CHECK(many_rule_matches(SK_OP_CONTAINS, overlapping, "this"));
  CHECK(many_rule_matches(SK_OP_CONTAINS, overlapping, "ahe"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, overlapping, "hs sh ih"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, overlapping, ""));
  /* A value inside another one, reached only through the longer one's path. */
  const char *inside[] = {"xaby", "ab", NULL};
  CHECK(many_rule_matches(SK_OP_CONTAINS, inside, "xabz"));
  CHECK(many_rule_matches(SK_OP_CONTAINS, inside, "xxab"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, inside, "xa-by"));
  const char *prefixes[] = {"abcd", "ab", "ab", "abcdef", NULL}; /* duplicates, prefixes */
  CHECK(many_rule_matches(SK_OP_CONTAINS, prefixes, "zzab"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, prefixes, "a b c d"));
  const char *empty[] = {"zz", "", NULL};
  CHECK(many_rule_matches(SK_OP_CONTAINS, empty, ""));
  CHECK(many_rule_matches(SK_OP_CONTAINS, empty, "anything"));
  const char *utf8[] = {"\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", NULL}; /* été, 日本 */
  CHECK(many_rule_matches(SK_OP_CONTAINS, utf8, "un \xc3\xa9t\xc3\xa9 chaud"));
  CHECK(many_rule_matches(SK_OP_CONTAINS, utf8, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, utf8, "ete \xc3\xa9t\xc3"));
  CHECK(!many_rule_matches(SK_OP_CONTAINS, utf8, "\xe6\x97\xa5 \xe6\x9c\xac"));
  /* Bytes no value uses (here NUL and 0xff) lead back to the start. */
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("f", true, 0, 1);
  add_rule(flag, "attr", SK_OP_CONTAINS, overlapping);
  for (int i = 0; i < 8; i++) {
    CHECK_EQ(sk_flag_add_value(flag, "\x01\x02", 2), SK_OK);
  }
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  const sk_attribute split = {"attr", 4, "s\0he\xffh", 6};
  CHECK_EQ(sk_store_is_enabled(store, S("f"), S("u"), &split, 1), 1); /* "he" after the NUL */
  const sk_attribute broken = {"attr", 4,
                               "s\0h\xff"
                               "e",
                               5};
  CHECK_EQ(sk_store_is_enabled(store, S("f"), S("u"), &broken, 1), 0);
  sk_store_free(store);
}

static void test_many_value_starts_and_ends_with(void) {
  const char *prefixes[] = {"admin-", "ad", "ops-", "ops-", "\xc3\xa9quipe", NULL};
  CHECK(many_rule_matches(SK_OP_STARTS_WITH, prefixes, "admin-1"));
  CHECK(many_rule_matches(SK_OP_STARTS_WITH, prefixes, "adx"));
  CHECK(many_rule_matches(SK_OP_STARTS_WITH, prefixes, "\xc3\xa9quipe-3"));
  CHECK(!many_rule_matches(SK_OP_STARTS_WITH, prefixes, "a"));
  CHECK(!many_rule_matches(SK_OP_STARTS_WITH, prefixes, "xadmin-"));
  CHECK(!many_rule_matches(SK_OP_STARTS_WITH, prefixes, "ops"));
  CHECK(!many_rule_matches(SK_OP_STARTS_WITH, prefixes, ""));
  const char *suffixes[] = {"@acme.com", "acme.com", ".org", ".org", "\xe6\x9c\xac", NULL};
  CHECK(many_rule_matches(SK_OP_ENDS_WITH, suffixes, "jane@acme.com"));
  CHECK(many_rule_matches(SK_OP_ENDS_WITH, suffixes, "xacme.com"));
  CHECK(many_rule_matches(SK_OP_ENDS_WITH, suffixes, "a.org"));
  CHECK(many_rule_matches(SK_OP_ENDS_WITH, suffixes, "\xe6\x97\xa5\xe6\x9c\xac"));
  CHECK(!many_rule_matches(SK_OP_ENDS_WITH, suffixes, "jane@acme.com "));
  CHECK(!many_rule_matches(SK_OP_ENDS_WITH, suffixes, "org"));
  CHECK(!many_rule_matches(SK_OP_ENDS_WITH, suffixes, "\x9c\xac"));
  CHECK(!many_rule_matches(SK_OP_ENDS_WITH, suffixes, ""));
  const char *empty[] = {"x", "", NULL};
  CHECK(many_rule_matches(SK_OP_STARTS_WITH, empty, ""));
  CHECK(many_rule_matches(SK_OP_ENDS_WITH, empty, "abc"));
}

/* One Contains value longer than the plain loop takes: the classic worst case for a naive
 * substring search, "aaa...ab" against "aaa...a". */
static void test_long_contains_value(void) {
  char needle[41];
  memset(needle, 'a', 39);
  needle[39] = 'b';
  needle[40] = '\0';
  char text[2001];
  memset(text, 'a', 2000);
  text[2000] = '\0';
  const char *values[] = {needle, NULL};
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", text));
  text[1999] = 'b';
  CHECK(rule_matches(SK_OP_CONTAINS, values, "attr", text));
  text[1999] = 'a';
  text[20] = 'b'; /* too early: only 20 a's before it */
  CHECK(!rule_matches(SK_OP_CONTAINS, values, "attr", text));
}

static void test_text_rules_with_10000_values(void) {
  static const int32_t ops[] = {SK_OP_CONTAINS, SK_OP_STARTS_WITH, SK_OP_ENDS_WITH};
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("big", true, 0, 1);
  char value[32];
  for (int r = 0; r < 3; r++) {
    CHECK_EQ(sk_flag_add_rule(flag, S("id"), ops[r]), SK_OK);
    for (int i = SK_MAX_VALUES_PER_RULE - 1; i >= 0; i--) {
      const int n = snprintf(value, sizeof value, "<%c%d>", 'a' + r, i * 3);
      CHECK_EQ(sk_flag_add_value(flag, value, (size_t)n), SK_OK);
    }
  }
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  for (int i = 0; i < SK_MAX_VALUES_PER_RULE * 3; i += 7) {
    for (int r = 0; r < 3; r++) {
      const int n = snprintf(value, sizeof value, "%s<%c%d>%s", r == 1 ? "" : "x", 'a' + r, i,
                             r == 2 ? "" : "y");
      sk_attribute a = {"id", 2, value, (size_t)n};
      sk_evaluation e = evaluate(store, "big", "u", &a, 1);
      CHECK_EQ(e.enabled, i % 3 == 0);
      CHECK_EQ(e.rule_index, i % 3 == 0 ? r : -1);
    }
  }
  sk_store_free(store);
}

/* A plain reference for the three text operators. */
static bool reference_text_match(int32_t op, const char *const *values, const size_t *lens,
                                 size_t count, const char *text, size_t text_len) {
  for (size_t i = 0; i < count; i++) {
    const size_t n = lens[i];
    if (n > text_len) {
      continue;
    }
    if (op == SK_OP_STARTS_WITH && memcmp(text, values[i], n) == 0) {
      return true;
    }
    if (op == SK_OP_ENDS_WITH && memcmp(text + text_len - n, values[i], n) == 0) {
      return true;
    }
    for (size_t at = 0; op == SK_OP_CONTAINS && at + n <= text_len; at++) {
      if (memcmp(text + at, values[i], n) == 0) {
        return true;
      }
    }
  }
  return false;
}

static uint64_t next_random(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Random rules of 1 to 2,000 values against random texts pieced from them: the core must agree
 * with the reference. Half the rounds use four bytes (deep tries, much overlap), half every
 * byte value (256 classes, so most states of a large Contains matcher have no full row). */
static void test_text_rules_agree_with_reference(void) {
  enum { ROUNDS = 60, MAX_COUNT = 2000, MAX_LEN = 9, TEXTS = 200 };
  static char storage[MAX_COUNT][MAX_LEN];
  static const char *values[MAX_COUNT + 1];
  static size_t lens[MAX_COUNT + 1];
  static const int32_t ops[] = {SK_OP_CONTAINS, SK_OP_STARTS_WITH, SK_OP_ENDS_WITH};
  uint64_t x = 0x853c49e6748fea9bu;
  for (int round = 0; round < ROUNDS && harness.current_failures == 0; round++) {
    const bool narrow = round % 2 == 0;
    const int32_t op = ops[round / 2 % 3];
    /* Later narrow rounds: longer values, fewer of them, so that not every text matches. */
    const bool deep = narrow && round >= 30;
    size_t count = 1 + next_random(&x) % (round < 30 ? 40 : deep ? 200 : MAX_COUNT);
    const size_t min_len = deep ? 6 : 1;
    sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
    sk_flag *flag = new_flag("f", true, 0, 1);
    CHECK_EQ(sk_flag_add_rule(flag, S("t"), op), SK_OK);
    for (size_t i = 0; i < count; i++) {
      lens[i] = min_len + next_random(&x) % (MAX_LEN - min_len + 1);
      if (next_random(&x) % 500 == 0) {
        lens[i] = 0;
      }
      for (size_t j = 0; j < lens[i]; j++) {
        const uint64_t r = next_random(&x);
        storage[i][j] = narrow ? "ab\xc3\0"[r % 4] : (char)(r >> 24);
      }
      values[i] = storage[i];
      CHECK_EQ(sk_flag_add_value(flag, values[i], lens[i]), SK_OK);
    }
    /* One value holding every byte gives even a four-byte rule 256 classes, so the full rows
     * cover only its shallowest states and the deep failure chains run without them. */
    const size_t piece_count = count;
    if (deep) {
      static char every_byte[256];
      for (int b = 0; b < 256; b++) {
        every_byte[b] = (char)b;
      }
      values[count] = every_byte;
      lens[count] = sizeof every_byte;
      CHECK_EQ(sk_flag_add_value(flag, every_byte, sizeof every_byte), SK_OK);
      count++;
    }
    CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
    for (int t = 0; t < TEXTS; t++) {
      char text[64];
      size_t len = 0;
      while (len + MAX_LEN < sizeof text && next_random(&x) % 5 != 0) {
        const uint64_t r = next_random(&x);
        if (r % 3 == 0) { /* part of a value */
          const size_t i = (size_t)(r >> 8) % piece_count;
          const size_t from = (size_t)(r >> 24) % (lens[i] + 1);
          const size_t to = from + (size_t)(r >> 40) % (lens[i] - from + 1);
          memcpy(text + len, values[i] + from, to - from);
          len += to - from;
        } else {
          text[len++] = narrow ? "ab\xc3\0"[(r >> 8) % 4] : (char)(r >> 24);
        }
      }
      const sk_attribute a = {"t", 1, text, len};
      const bool want = reference_text_match(op, values, lens, count, text, len);
      CHECK_EQ(sk_store_is_enabled(store, S("f"), S("u"), &a, 1), want);
    }
    sk_store_free(store);
  }
}

/* CPU time in seconds, or -1 where the platform has no process clock (WASI). */
static double cpu_seconds(void) {
#ifdef __wasi__
  return -1;
#else
  const clock_t now = clock();
  return now == (clock_t)-1 ? -1 : (double)now / CLOCKS_PER_SEC;
#endif
}

/* The defect this guards against: with each value searched for separately, a rule of 10,000
 * Contains values cost (values x attribute length), seconds of CPU for an 80 KB attribute.
 * Here every value is "a" x (1..64), "b", digits, and the attribute is 80 KB of "a": every
 * position starts a long partial match of every value, the worst case for the old loop (about
 * 6 s of CPU at -O2) and for an automaton's failure links. The automaton takes milliseconds;
 * the bound leaves a margin of more than 100x for slow or loaded machines and sanitizers, and
 * CPU time (clock) does not count other processes' work. On WASI, which has no process clock,
 * only the answers are checked. */
static void test_many_contains_values_cost_linear_time(void) {
  enum { TEXT = 80 * 1000 };
  static char text[TEXT];
  memset(text, 'a', TEXT);
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = new_flag("worst", true, 0, 1);
  CHECK_EQ(sk_flag_add_rule(flag, S("ua"), SK_OP_CONTAINS), SK_OK);
  char value[96];
  size_t n = 0;
  for (int i = 0; i < SK_MAX_VALUES_PER_RULE; i++) {
    n = 1 + (size_t)(i % 64);
    memset(value, 'a', n);
    n += (size_t)snprintf(value + n, sizeof value - n, "b%d", i);
    CHECK_EQ(sk_flag_add_value(flag, value, n), SK_OK);
  }
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  const sk_attribute a = {"ua", 2, text, TEXT};
  const double start = cpu_seconds();
  CHECK_EQ(sk_store_is_enabled(store, S("worst"), S("u"), &a, 1), 0);
  const double end = cpu_seconds();
  if (start >= 0 && end >= 0) {
    CHECK(end - start < 0.5);
  }
  memcpy(text + TEXT - n, value, n); /* the last value, at the very end */
  CHECK_EQ(sk_store_is_enabled(store, S("worst"), S("u"), &a, 1), 1);
  sk_store_free(store);
}

static void test_evaluate_argument_errors(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, new_flag("on", true, -1, 1)), SK_OK);
  sk_evaluation e;
  memset(&e, 0x55, sizeof e);
  CHECK_EQ(sk_store_evaluate(NULL, S("on"), S("u"), NULL, 0, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(e.enabled, 0);
  CHECK_EQ(e.version, 0);
  CHECK_EQ(e.rule_index, -1);
  CHECK_EQ(e.bucket, -1);
  CHECK_EQ(sk_store_evaluate(store, S("on"), S("u"), NULL, 0, NULL), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_evaluate(store, NULL, 2, S("u"), NULL, 0, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_evaluate(store, S("on"), NULL, 1, NULL, 0, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_evaluate(store, S("on"), S("u"), NULL, 1, &e), SK_ERR_INVALID_ARGUMENT);
  sk_attribute bad_name = {NULL, 1, "v", 1};
  CHECK_EQ(sk_store_evaluate(store, S("on"), S("u"), &bad_name, 1, &e), SK_ERR_INVALID_ARGUMENT);
  sk_attribute bad_value = {"n", 1, NULL, 1};
  CHECK_EQ(sk_store_evaluate(store, S("on"), S("u"), &bad_value, 1, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);

  CHECK_EQ(sk_store_is_enabled(NULL, S("on"), S("u"), NULL, 0), 0);
  CHECK_EQ(sk_store_is_enabled(store, NULL, 2, S("u"), NULL, 0), 0);
  CHECK_EQ(sk_store_is_enabled(store, S("on"), NULL, 1, NULL, 0), 0);
  CHECK_EQ(sk_store_is_enabled(store, S("on"), S("u"), NULL, 1), 0);
  CHECK_EQ(sk_store_is_enabled(store, S("on"), S("u"), &bad_name, 1), 0);
  CHECK_EQ(sk_store_is_enabled(store, S("on"), S("u"), &bad_value, 1), 0);

  /* NULL with length 0 is fine everywhere; empty names and values are ordinary. */
  CHECK_EQ(sk_store_is_enabled(store, S("on"), NULL, 0, NULL, 0), 1);
  sk_attribute empty = {NULL, 0, NULL, 0};
  CHECK_EQ(sk_store_is_enabled(store, S("on"), NULL, 0, &empty, 1), 1);
  CHECK_EQ(sk_store_evaluate(store, NULL, 0, NULL, 0, NULL, 0, &e), SK_OK);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);

  e = evaluate(store, "missing", "u", NULL, 0);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(e.enabled, 0);
  CHECK_EQ(e.version, 0);
  CHECK_EQ(e.rule_index, -1);
  CHECK_EQ(e.bucket, -1);
  /* Lookups use exact bytes: no trimming, no case folding, no prefix matches. */
  CHECK_EQ(evaluate(store, "On", "u", NULL, 0).reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(sk_store_is_enabled(store, "onx", 2, S("u"), NULL, 0), 1);
  CHECK_EQ(sk_store_is_enabled(store, "onx", 3, S("u"), NULL, 0), 0);
  sk_store_free(store);
}

/* ---- the store ------------------------------------------------------------------------------ */

static void test_store_new_free_and_null_handles(void) {
  CHECK(sk_store_new(2) == NULL);
  CHECK(sk_store_new(-1) == NULL);
  sk_store *single = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_store *concurrent = sk_store_new(SK_STORE_CONCURRENT);
  CHECK(single != NULL && concurrent != NULL);
  CHECK_EQ(sk_store_count(single), 0);
  CHECK_EQ(sk_store_version(single, S("x")), 0);
  sk_store_free(single);
  sk_store_free(concurrent);
  sk_store_free(NULL);
  sk_store_clear(NULL);
  CHECK_EQ(sk_store_count(NULL), 0);
  CHECK_EQ(sk_store_version(NULL, S("x")), 0);
  CHECK_EQ(sk_store_remove(NULL, S("x"), 0), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_upsert(NULL, NULL), SK_ERR_INVALID_ARGUMENT);
  /* The store takes the flag even when it cannot use it: LeakSanitizer checks it was freed. */
  CHECK_EQ(sk_store_upsert(NULL, new_flag("orphan", true, -1, 1)), SK_ERR_INVALID_ARGUMENT);

  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, NULL), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_remove(store, NULL, 1, 0), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_remove(store, NULL, 0, 0), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_version(store, NULL, 1), 0);
  CHECK_EQ(sk_store_version(store, NULL, 0), 0);
  sk_store_free(store);
}

static void test_upsert_is_version_aware(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 5)), SK_OK);
  CHECK_EQ(sk_store_version(store, S("f")), 5);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", false, -1, 5)), SK_IGNORED_STALE);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", false, -1, 4)), SK_IGNORED_STALE);
  CHECK_EQ(evaluate(store, "f", "u", NULL, 0).enabled, 1); /* the stale writes changed nothing */
  CHECK_EQ(sk_store_upsert(store, new_flag("f", false, -1, 6)), SK_OK);
  sk_evaluation e = evaluate(store, "f", "u", NULL, 0);
  CHECK_EQ(e.reason, SK_REASON_OFF);
  CHECK_EQ(e.version, 6);
  /* An unversioned write always applies, and anything versioned applies over it. */
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 0)), SK_OK);
  CHECK_EQ(sk_store_version(store, S("f")), 0);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 0)), SK_OK);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", false, -1, 1)), SK_OK);
  CHECK_EQ(sk_store_version(store, S("f")), 1);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, UINT64_MAX)), SK_OK);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, UINT64_MAX)), SK_IGNORED_STALE);
  CHECK(sk_store_version(store, S("f")) == UINT64_MAX);
  CHECK_EQ(sk_store_count(store), 1);
  sk_store_free(store);
}

static void test_remove_and_tombstones(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 3)), SK_OK);
  CHECK_EQ(sk_store_remove(store, S("f"), 3), SK_IGNORED_STALE);
  CHECK_EQ(sk_store_remove(store, S("f"), 2), SK_IGNORED_STALE);
  CHECK_EQ(sk_store_count(store), 1);
  CHECK_EQ(sk_store_remove(store, S("f"), 4), SK_OK);
  CHECK_EQ(sk_store_count(store), 0);
  CHECK_EQ(sk_store_version(store, S("f")), 0);
  CHECK_EQ(evaluate(store, "f", "u", NULL, 0).reason, SK_REASON_FLAG_NOT_FOUND);
  /* The tombstone keeps older upserts out, lets newer ones in. */
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 3)), SK_IGNORED_STALE);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 4)), SK_IGNORED_STALE);
  CHECK_EQ(sk_store_count(store), 0);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 5)), SK_OK);
  CHECK_EQ(sk_store_count(store), 1);
  CHECK_EQ(evaluate(store, "f", "u", NULL, 0).version, 5);

  /* A delete for a key never seen is remembered too. */
  CHECK_EQ(sk_store_remove(store, S("g"), 7), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_upsert(store, new_flag("g", true, -1, 6)), SK_IGNORED_STALE);
  /* A later delete raises the tombstone; an older one does not lower it. */
  CHECK_EQ(sk_store_remove(store, S("g"), 9), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_remove(store, S("g"), 2), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_upsert(store, new_flag("g", true, -1, 9)), SK_IGNORED_STALE);
  /* An unversioned upsert always applies, even over a tombstone. */
  CHECK_EQ(sk_store_upsert(store, new_flag("g", true, -1, 0)), SK_OK);
  CHECK_EQ(sk_store_count(store), 2);

  /* An unversioned delete is unconditional and leaves nothing behind. */
  CHECK_EQ(sk_store_remove(store, S("f"), 0), SK_OK);
  CHECK_EQ(sk_store_remove(store, S("f"), 0), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_upsert(store, new_flag("f", true, -1, 1)), SK_OK);
  /* A versioned delete beats an unversioned flag. */
  CHECK_EQ(sk_store_remove(store, S("g"), 1), SK_OK);
  CHECK_EQ(sk_store_count(store), 1);
  /* A key that could never be stored is simply not found. */
  CHECK_EQ(sk_store_remove(store, S("bad key"), 3), SK_ERR_NOT_FOUND);
  CHECK_EQ(sk_store_remove(store, S(""), 3), SK_ERR_NOT_FOUND);

  /* clear drops flags and tombstones alike. */
  CHECK_EQ(sk_store_remove(store, S("h"), 50), SK_ERR_NOT_FOUND);
  sk_store_clear(store);
  CHECK_EQ(sk_store_count(store), 0);
  CHECK_EQ(evaluate(store, "f", "u", NULL, 0).reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(sk_store_upsert(store, new_flag("h", true, -1, 1)), SK_OK);
  CHECK_EQ(sk_store_upsert(store, new_flag("g", true, -1, 1)), SK_OK);
  CHECK_EQ(sk_store_count(store), 2);
  sk_store_clear(store);
  sk_store_clear(store);
  CHECK_EQ(sk_store_count(store), 0);
  sk_store_free(store);
}

/* Many keys force the table to grow and deletions to shift probe runs; every key must stay
 * reachable throughout. */
static void test_many_flags_grow_and_shrink(void) {
  for (int mode = SK_STORE_SINGLE_THREADED; mode <= SK_STORE_CONCURRENT; mode++) {
    sk_store *store = sk_store_new(mode);
    enum { N = 3000 };
    char key[32];
    for (int i = 0; i < N; i++) {
      const int n = snprintf(key, sizeof key, "flag-%d", i);
      sk_flag *flag = NULL;
      CHECK_EQ(sk_flag_new(key, (size_t)n, true, -1, (uint64_t)i + 1, &flag), SK_OK);
      CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
    }
    CHECK_EQ(sk_store_count(store), N);
    for (int i = 0; i < N; i += 2) { /* unversioned: really erased from the table */
      const int n = snprintf(key, sizeof key, "flag-%d", i);
      CHECK_EQ(sk_store_remove(store, key, (size_t)n, 0), SK_OK);
    }
    for (int i = 1; i < N; i += 4) { /* versioned: replaced by tombstones */
      const int n = snprintf(key, sizeof key, "flag-%d", i);
      CHECK_EQ(sk_store_remove(store, key, (size_t)n, (uint64_t)N + 1), SK_OK);
    }
    CHECK_EQ(sk_store_count(store), N / 4);
    for (int i = 0; i < N; i++) {
      const int n = snprintf(key, sizeof key, "flag-%d", i);
      const bool present = i % 4 == 3;
      CHECK_EQ(sk_store_version(store, key, (size_t)n), present ? i + 1 : 0);
      CHECK_EQ(sk_store_is_enabled(store, key, (size_t)n, S("u"), NULL, 0), present);
    }
    for (int i = 0; i < N; i += 2) { /* erased keys come back */
      const int n = snprintf(key, sizeof key, "flag-%d", i);
      sk_flag *flag = NULL;
      CHECK_EQ(sk_flag_new(key, (size_t)n, true, -1, 1, &flag), SK_OK);
      CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
    }
    CHECK_EQ(sk_store_count(store), N / 2 + N / 4);
    sk_store_free(store);
  }
}

static void test_copies_every_string(void) {
  char key[] = "copied";
  char attribute[] = "plan";
  char value[] = "pro";
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(key, strlen(key), true, 0, 1, &flag), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, attribute, strlen(attribute), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, value, strlen(value)), SK_OK);
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  memset(key, 'x', strlen(key));
  memset(attribute, 'x', strlen(attribute));
  memset(value, 'x', strlen(value));
  sk_attribute a = attr("plan", "pro");
  CHECK_EQ(evaluate(store, "copied", "u", &a, 1).enabled, 1);
  sk_store_free(store);
}

static void test_evaluate_by_handle(void) {
  CHECK(sk_store_find(NULL, S("f")) == NULL);
  sk_store *concurrent = sk_store_new(SK_STORE_CONCURRENT);
  CHECK_EQ(sk_store_upsert(concurrent, new_flag("f", true, -1, 1)), SK_OK);
  CHECK(sk_store_find(concurrent, S("f")) == NULL); /* handles are for single-threaded stores */
  sk_store_free(concurrent);

  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK(sk_store_find(store, S("f")) == NULL); /* empty store */
  sk_flag *flag = new_flag("f", true, 50, 3);
  const char *acme[] = {"@acme.com", NULL};
  add_rule(flag, "email", SK_OP_ENDS_WITH, acme);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  CHECK(sk_store_find(store, NULL, 1) == NULL);
  CHECK(sk_store_find(store, S("g")) == NULL);
  const sk_flag *found = sk_store_find(store, S("f"));
  CHECK(found == flag); /* the record the store took */

  sk_attribute staff = attr("email", "jane@acme.com");
  char user[16];
  for (int i = 0; i < 200; i++) {
    const int n = snprintf(user, sizeof user, "u%d", i);
    for (size_t count = 0; count <= 1; count++) {
      sk_evaluation by_store;
      sk_evaluation by_handle;
      CHECK_EQ(sk_store_evaluate(store, S("f"), user, (size_t)n, &staff, count, &by_store), SK_OK);
      CHECK_EQ(sk_flag_evaluate(found, user, (size_t)n, &staff, count, &by_handle), SK_OK);
      CHECK(memcmp(&by_store, &by_handle, sizeof by_store) == 0);
      CHECK_EQ(sk_flag_is_enabled(found, user, (size_t)n, &staff, count), by_store.enabled);
    }
  }

  sk_evaluation e;
  CHECK_EQ(sk_flag_evaluate(NULL, S("u"), NULL, 0, &e), SK_OK);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(e.version, 0);
  CHECK_EQ(sk_flag_is_enabled(NULL, S("u"), NULL, 0), 0);
  CHECK_EQ(sk_flag_evaluate(found, S("u"), NULL, 0, NULL), SK_ERR_INVALID_ARGUMENT);
  memset(&e, 0x55, sizeof e);
  CHECK_EQ(sk_flag_evaluate(found, NULL, 1, NULL, 0, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(sk_flag_evaluate(found, S("u"), NULL, 1, &e), SK_ERR_INVALID_ARGUMENT);
  sk_attribute bad = {NULL, 1, "v", 1};
  CHECK_EQ(sk_flag_evaluate(found, S("u"), &bad, 1, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_is_enabled(found, NULL, 1, NULL, 0), 0);

  /* A flag still being built is not evaluable: it has not been finalised. */
  sk_flag *unstored = new_flag("u", true, -1, 1);
  memset(&e, 0x55, sizeof e);
  CHECK_EQ(sk_flag_evaluate(unstored, S("u"), NULL, 0, &e), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(sk_flag_is_enabled(unstored, S("u"), NULL, 0), 0);
  sk_flag_free(unstored);

  /* Deleted keys have no handle; a rewritten key has a new one. */
  CHECK_EQ(sk_store_upsert(store, new_flag("f", false, -1, 4)), SK_OK);
  found = sk_store_find(store, S("f"));
  CHECK(found != NULL);
  CHECK_EQ(sk_flag_evaluate(found, S("u"), NULL, 0, &e), SK_OK);
  CHECK_EQ(e.reason, SK_REASON_OFF);
  CHECK_EQ(e.version, 4);
  CHECK_EQ(sk_store_remove(store, S("f"), 5), SK_OK);
  CHECK(sk_store_find(store, S("f")) == NULL); /* a tombstone is not a flag */
  sk_store_free(store);
}

/* ---- version 2: numbers, SemVer, typed flags ---------------------------------------------- */

static bool parses_to(const char *text, double expected) {
  double got = -12345.0;
  if (sk_number_parse(S(text), &got) != SK_OK) {
    return false;
  }
  return memcmp(&got, &expected, sizeof got) == 0; /* bit for bit: -0 is not 0 */
}

static void test_number_parse(void) {
  CHECK(parses_to("0", 0.0));
  CHECK(parses_to("-0", -0.0));
  CHECK(parses_to("1e3", 1000.0));
  CHECK(parses_to("1E+3", 1000.0));
  CHECK(parses_to("0.1", 0.1));
  CHECK(parses_to("-12.5e-1", -1.25));
  CHECK(parses_to("1e400", HUGE_VAL));
  CHECK(parses_to("-1e400", -HUGE_VAL));
  CHECK(parses_to("1e-400", 0.0));
  CHECK(parses_to("-1e-400", -0.0));
  CHECK(parses_to("1.7976931348623157e308", 1.7976931348623157e308));
  CHECK(parses_to("1.7976931348623159e308", HUGE_VAL)); /* rounds up to infinity */
  CHECK(parses_to("4.9e-324", 4.9e-324));
  CHECK(parses_to("2.4703282292062327e-324", 0.0)); /* below half the smallest: 0 */
  CHECK(parses_to("2.4703282292062328e-324", 4.9e-324));
  CHECK(parses_to("9007199254740993", 9007199254740992.0)); /* a tie: to even */
  CHECK(parses_to("9007199254740995", 9007199254740996.0));
  CHECK(parses_to("3.141592653589793238462643383279", 3.141592653589793));
  CHECK(parses_to("2.2250738585072011e-308", 2.225073858507201e-308));
  CHECK(parses_to("123456789012345678901234567890", 1.2345678901234568e29));
  CHECK(parses_to("0.000000000000000000000000000001", 1e-30));
  CHECK(parses_to("1e99999999999999999999", HUGE_VAL));
  const char *refused[] = {"",    "-",     "+1",  "01",    ".5",          "1.",        "1e",
                           "1e+", " 1",    "1 ",  "NaN",   "Infinity",    "-Infinity", "0x10",
                           "1,5", "1.5.2", "--1", "1e1.5", "\xef\xbc\x91"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    double out = 7.0;
    CHECK_EQ(sk_number_parse(S(refused[i]), &out), SK_ERR_BAD_VALUE);
    CHECK(out == 7.0);
  }
  double out;
  CHECK_EQ(sk_number_parse(NULL, 1, &out), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_number_parse(S("1"), NULL), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_number_parse(NULL, 0, &out), SK_ERR_BAD_VALUE);
  /* 1,000 digits: the dropped tail still decides a tie. */
  static char long_number[1100];
  memset(long_number, '0', sizeof long_number);
  memcpy(long_number, "9007199254740993", 16); /* exactly between two doubles ... */
  long_number[16] = '.';
  CHECK_EQ(sk_number_parse(long_number, 1000, &out), SK_OK);
  CHECK(out == 9007199254740992.0);
  long_number[999] = '1'; /* ... until a digit far beyond the kept ones tips it up */
  CHECK_EQ(sk_number_parse(long_number, 1000, &out), SK_OK);
  CHECK(out == 9007199254740994.0);
}

static int32_t semver_order(const char *a, const char *b) {
  int32_t order = 99;
  if (sk_semver_compare(S(a), S(b), &order) != SK_OK) {
    return 99;
  }
  return order;
}

static void test_semver(void) {
  const char *ascending[] = {"1.0.0-alpha",
                             "1.0.0-alpha.1",
                             "1.0.0-alpha.beta",
                             "1.0.0-beta",
                             "1.0.0-beta.2",
                             "1.0.0-beta.11",
                             "1.0.0-rc.1",
                             "1.0.0",
                             "1.0.1",
                             "1.2.0",
                             "1.10.0",
                             "2.0.0",
                             "10.0.0",
                             "99999999999999999999.0.0"};
  const size_t n = sizeof ascending / sizeof ascending[0];
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      CHECK_EQ(semver_order(ascending[i], ascending[j]), i < j ? -1 : (i > j ? 1 : 0));
    }
  }
  CHECK_EQ(semver_order("1.0.0+build.1", "1.0.0+other"), 0);
  CHECK_EQ(semver_order("1.0.0-rc.1+b", "1.0.0-rc.1"), 0);
  CHECK_EQ(semver_order("1.0.0-0A", "1.0.0-1"), 1); /* alphanumeric after numeric */
  CHECK_EQ(semver_order("1.0.0+001", "1.0.0"), 0);  /* build metadata may have leading zeros */
  const char *refused[] = {"v1.2.3",    "1.2",      "1.2.3.4", "01.2.3",     "1.02.3", "1.2.03",
                           "1.2.3-",    "1.2.3-01", "1.2.3+",  "1.2.3-a..b", "1.2.3 ", " 1.2.3",
                           "1.2.3-a_b", "",         "1.2.-3",  "1.2.3+a+b"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    int32_t order = 5;
    CHECK_EQ(sk_semver_compare(S(refused[i]), S("1.0.0"), &order), SK_ERR_BAD_VALUE);
    CHECK_EQ(order, 5);
  }
  int32_t order;
  CHECK_EQ(sk_semver_compare(NULL, 1, S("1.0.0"), &order), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_semver_compare(S("1.0.0"), S("1.0.0"), NULL), SK_ERR_INVALID_ARGUMENT);
}

static sk_typed_attribute text_attr(const char *name, const char *text) {
  sk_typed_attribute a = {name, strlen(name), text, strlen(text), 0.0, SK_VALUE_TEXT, 0};
  return a;
}

static sk_typed_attribute number_attr(const char *name, double number) {
  sk_typed_attribute a = {name, strlen(name), NULL, 0, number, SK_VALUE_NUMBER, 0};
  return a;
}

static sk_typed_attribute bool_attr(const char *name, bool value) {
  sk_typed_attribute a = {name, strlen(name), NULL, 0, value ? 1.0 : 0.0, SK_VALUE_BOOL, 0};
  return a;
}

static sk_typed_attribute other_attr(const char *name) {
  sk_typed_attribute a = {name, strlen(name), NULL, 0, 0.0, SK_VALUE_OTHER, 0};
  return a;
}

static sk_typed_evaluation typed_eval(const sk_store *store, const char *flag, const char *user,
                                      const sk_typed_attribute *attributes, size_t count) {
  sk_typed_evaluation e;
  memset(&e, 0x55, sizeof e);
  CHECK_EQ(sk_store_evaluate_typed(store, S(flag), S(user), attributes, count, &e), SK_OK);
  return e;
}

/* A string flag of three variants: off 0, fallthrough 1, and one rule on `op` serving 2. */
static void store_one_condition(sk_store *store, const char *key, int32_t op, bool negate,
                                const char *const *values) {
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new_typed(S(key), SK_TYPE_STRING, true, -1, 3, 1, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 0), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_FALLTHROUGH, 1), SK_OK);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
  CHECK_EQ(sk_flag_add_condition(flag, S("a"), op, negate), SK_OK);
  for (size_t i = 0; values[i] != NULL; i++) {
    CHECK_EQ(sk_flag_add_value(flag, S(values[i])), SK_OK);
  }
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, 2), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
}

static bool typed_holds(int32_t op, bool negate, const char *const *values,
                        sk_typed_attribute value) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  store_one_condition(store, "f", op, negate, values);
  const sk_typed_evaluation e = typed_eval(store, "f", "u", &value, 1);
  sk_store_free(store);
  CHECK(e.variant == 2 || e.variant == 1);
  return e.variant == 2;
}

static void test_numeric_operators(void) {
  const char *const eighteen[] = {"18", NULL};
  CHECK(typed_holds(SK_OP_GTE, false, eighteen, number_attr("a", 18)));
  CHECK(!typed_holds(SK_OP_GT, false, eighteen, number_attr("a", 18)));
  CHECK(typed_holds(SK_OP_GT, false, eighteen, number_attr("a", 18.5)));
  CHECK(typed_holds(SK_OP_LT, false, eighteen, number_attr("a", -0.0)));
  CHECK(typed_holds(SK_OP_LTE, false, eighteen, text_attr("a", "1.8e1")));
  CHECK(typed_holds(SK_OP_GT, false, eighteen, text_attr("a", "1e400")));
  CHECK(!typed_holds(SK_OP_GT, false, eighteen, text_attr("a", "+19")));
  CHECK(!typed_holds(SK_OP_GT, false, eighteen, text_attr("a", " 19")));
  CHECK(!typed_holds(SK_OP_GT, false, eighteen, text_attr("a", "NaN")));
  CHECK(!typed_holds(SK_OP_GT, false, eighteen, number_attr("a", NAN)));
  CHECK(!typed_holds(SK_OP_GTE, false, eighteen, bool_attr("a", true))); /* a bool is no number */
  const char *const one[] = {"1", NULL};
  CHECK(!typed_holds(SK_OP_GTE, false, one, bool_attr("a", true)));
  CHECK(typed_holds(SK_OP_GTE, true, one, bool_attr("a", true))); /* uncomparable, negated */
  CHECK(!typed_holds(SK_OP_GTE, false, one, other_attr("a")));
  /* Any of several values. */
  const char *const bounds[] = {"100", "5", NULL};
  CHECK(typed_holds(SK_OP_GT, false, bounds, number_attr("a", 6)));
  CHECK(!typed_holds(SK_OP_GT, false, bounds, number_attr("a", 5)));
  /* Values that are not numbers are refused when added; the flag is unchanged. */
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(S("f"), true, -1, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, S("a"), SK_OP_GT), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("1.")), SK_ERR_BAD_VALUE);
  CHECK_EQ(sk_flag_add_value(flag, S("abc")), SK_ERR_BAD_VALUE);
  CHECK_EQ(sk_flag_add_value(flag, NULL, 0), SK_ERR_BAD_VALUE);
  CHECK_EQ(sk_flag_add_rule(flag, S("v"), SK_OP_SEMVER_GT), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("v1.2.3")), SK_ERR_BAD_VALUE);
  CHECK_EQ(sk_flag_add_value(flag, S("1.2.3")), SK_OK);
  sk_flag_free(flag);
}

static void test_semver_operators(void) {
  const char *const v[] = {"1.2.3", NULL};
  CHECK(typed_holds(SK_OP_SEMVER_EQ, false, v, text_attr("a", "1.2.3+build")));
  CHECK(typed_holds(SK_OP_SEMVER_LT, false, v, text_attr("a", "1.2.3-rc.1")));
  CHECK(typed_holds(SK_OP_SEMVER_GT, false, v, text_attr("a", "1.10.0")));
  CHECK(!typed_holds(SK_OP_SEMVER_GT, false, v, text_attr("a", "v1.10.0")));
  CHECK(typed_holds(SK_OP_SEMVER_GT, true, v, text_attr("a", "v1.10.0")));
  CHECK(!typed_holds(SK_OP_SEMVER_EQ, false, v, number_attr("a", 1)));
}

static void test_text_of_typed_values(void) {
  const char *const one[] = {"1", NULL};
  CHECK(typed_holds(SK_OP_EQUALS, false, one, number_attr("a", 1.0)));
  CHECK(!typed_holds(SK_OP_EQUALS, false, one, number_attr("a", 1.5)));
  CHECK(!typed_holds(SK_OP_NOT_EQUALS, false, one, number_attr("a", 1.5))); /* no text */
  CHECK(typed_holds(SK_OP_NOT_EQUALS, true, one, number_attr("a", 1.5)));
  CHECK(!typed_holds(SK_OP_EQUALS, false, one, bool_attr("a", true)));
  const char *const zero[] = {"0", NULL};
  CHECK(typed_holds(SK_OP_EQUALS, false, zero, number_attr("a", -0.0)));
  const char *const big[] = {"-9007199254740991", NULL};
  CHECK(typed_holds(SK_OP_EQUALS, false, big, number_attr("a", -9007199254740991.0)));
  CHECK(!typed_holds(SK_OP_EQUALS, false, one, number_attr("a", 9007199254740992.0)));
  const char *const truth[] = {"true", NULL};
  CHECK(typed_holds(SK_OP_EQUALS, false, truth, bool_attr("a", true)));
  CHECK(!typed_holds(SK_OP_EQUALS, false, truth, bool_attr("a", false)));
  /* A binding's own text for a number wins (Python's exact big integers). */
  sk_typed_attribute given = number_attr("a", 1e20);
  given.text = "100000000000000000000";
  given.text_len = strlen(given.text);
  const char *const huge[] = {"100000000000000000000", NULL};
  CHECK(typed_holds(SK_OP_EQUALS, false, huge, given));
  /* Missing is false even negated, whatever the operator. */
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  store_one_condition(store, "f", SK_OP_NOT_EQUALS, true, one);
  sk_typed_attribute elsewhere = text_attr("b", "1");
  CHECK_EQ(typed_eval(store, "f", "u", &elsewhere, 1).variant, 1);
  CHECK_EQ(typed_eval(store, "f", "u", NULL, 0).variant, 1);
  sk_typed_attribute null_value = other_attr("a");
  CHECK_EQ(typed_eval(store, "f", "u", &null_value, 1).variant, 2);
  sk_store_free(store);
}

static void test_typed_flag_builder_errors(void) {
  sk_flag *flag = (sk_flag *)&flag;
  CHECK_EQ(sk_flag_new_typed(S("f"), 4, true, -1, 1, 0, &flag), SK_ERR_BAD_TYPE);
  CHECK(flag == NULL);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_STRING, true, -1, 0, 0, &flag), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_STRING, true, -1, 101, 0, &flag), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_BOOLEAN, true, -1, 2, 0, &flag), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_NUMBER, true, 50, 2, 0, &flag), SK_ERR_BAD_ROLLOUT);
  CHECK_EQ(sk_flag_new_typed(S("f f"), SK_TYPE_NUMBER, true, -1, 2, 0, &flag), SK_ERR_BAD_KEY);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_JSON, true, -1, 100, 0, NULL),
           SK_ERR_INVALID_ARGUMENT);

  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_JSON, true, -1, 3, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 3), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_set_off_variant(flag, -1), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, 0), SK_ERR_NO_RULE);
  CHECK_EQ(sk_flag_serve_variant(flag, 2, 0), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_add_condition(flag, S("a"), SK_OP_EQUALS, false), SK_ERR_NO_RULE);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("x")), SK_ERR_NO_RULE);
  CHECK_EQ(sk_flag_add_condition(flag, S(""), SK_OP_EQUALS, false), SK_ERR_BAD_ATTRIBUTE);
  CHECK_EQ(sk_flag_add_condition(flag, S("a"), 12, false), SK_ERR_BAD_OPERATOR);
  for (int i = 0; i < SK_MAX_CONDITIONS; i++) {
    CHECK_EQ(sk_flag_add_condition(flag, S("a"), SK_OP_EQUALS, i % 2 == 0), SK_OK);
  }
  CHECK_EQ(sk_flag_add_condition(flag, S("a"), SK_OP_EQUALS, false), SK_ERR_TOO_MANY_CONDITIONS);
  const int32_t variants[] = {0, 1, 2};
  const uint32_t weights[] = {500, 499, 1};
  const uint32_t short_weights[] = {500, 499, 0};
  const uint32_t heavy[] = {1001, 0, 0};
  const int32_t bad_variants[] = {0, 1, 3};
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, variants, short_weights, 3), SK_ERR_BAD_SPLIT);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, variants, heavy, 3), SK_ERR_BAD_SPLIT);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, variants, weights, 0), SK_ERR_BAD_SPLIT);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, bad_variants, weights, 3), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, NULL, weights, 3), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, variants, weights, 3), SK_OK);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_FALLTHROUGH, variants, weights, 3), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_FALLTHROUGH, 2), SK_OK); /* replaces the split */
  CHECK_EQ(sk_flag_set_bucket_by(flag, NULL, 3), SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_flag_set_bucket_by(flag, S("company")), SK_OK);
  CHECK_EQ(sk_flag_set_bucket_by(flag, S("org")), SK_OK);

  /* Upsert refuses what the type requires and is missing: here the off variant. */
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK_EQ(sk_store_upsert(store, flag), SK_ERR_INCOMPLETE);
  CHECK_EQ(sk_store_count(store), 0);
  /* A rule without a serve, a rule without a condition, a missing fallthrough. */
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_STRING, true, -1, 1, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 0), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_FALLTHROUGH, 0), SK_OK);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
  CHECK_EQ(sk_flag_add_condition(flag, S("a"), SK_OP_EQUALS, false), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_ERR_INCOMPLETE);
  CHECK_EQ(sk_flag_new(S("f"), true, -1, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_ERR_INCOMPLETE);
  CHECK_EQ(sk_flag_new_typed(S("f"), SK_TYPE_NUMBER, true, -1, 1, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 0), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_ERR_INCOMPLETE);
  /* Boolean flags: no off variant to set, no fallthrough serve (the rollout is theirs). */
  CHECK_EQ(sk_flag_new(S("b"), true, -1, 0, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, SK_VARIANT_OFF), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_FALLTHROUGH, SK_VARIANT_OFF), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, 2), SK_ERR_BAD_VARIANT);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, SK_VARIANT_OFF), SK_OK);
  sk_flag_free(flag);
  CHECK_EQ(sk_store_count(store), 0);
  CHECK(strcmp(sk_status_name(SK_ERR_TOO_MANY_CONDITIONS), "SK_ERR_TOO_MANY_CONDITIONS") == 0);
  sk_store_free(store);
}

/* A reference split: the index of the entry the bucket falls in. */
static int32_t reference_split(const char *flag_key, const char *b, const int32_t *variants,
                               const uint32_t *weights, size_t count, int32_t *bucket_out) {
  char joined[256];
  const int n = snprintf(joined, sizeof joined, "%s:%s", flag_key, b);
  const uint32_t bucket =
      reference_murmur3((const unsigned char *)joined, (size_t)n, 86028157u) % 1000u;
  *bucket_out = (int32_t)bucket;
  uint32_t sum = 0;
  for (size_t i = 0; i < count; i++) {
    sum += weights[i];
    if (bucket < sum) {
      return variants[i];
    }
  }
  return -1;
}

static void test_typed_evaluation(void) {
  sk_store *store = sk_store_new(SK_STORE_CONCURRENT);
  sk_flag *flag = NULL;
  const int32_t variants[] = {0, 1, 2, 3};
  const uint32_t weights[] = {0, 300, 700, 0};
  CHECK_EQ(sk_flag_new_typed(S("checkout"), SK_TYPE_STRING, true, -1, 4, 7, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 3), SK_OK);
  CHECK_EQ(sk_flag_set_bucket_by(flag, S("company")), SK_OK);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK); /* rule 0: plan == pro AND age >= 18 -> 0 */
  CHECK_EQ(sk_flag_add_condition(flag, S("plan"), SK_OP_EQUALS, false), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("pro")), SK_OK);
  CHECK_EQ(sk_flag_add_condition(flag, S("age"), SK_OP_GTE, false), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("18")), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, 0), SK_OK);
  CHECK_EQ(sk_flag_begin_rule(flag), SK_OK); /* rule 1: NOT country == FR -> split */
  CHECK_EQ(sk_flag_add_condition(flag, S("country"), SK_OP_EQUALS, true), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("FR")), SK_OK);
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, variants, weights, 4), SK_OK);
  const uint32_t all_to_one[] = {0, 0, 0, 1000};
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_FALLTHROUGH, variants, all_to_one, 4), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);

  sk_typed_attribute attrs[3] = {text_attr("plan", "pro"), number_attr("age", 18),
                                 text_attr("country", "FR")};
  sk_typed_evaluation e = typed_eval(store, "checkout", "u1", attrs, 3);
  CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
  CHECK_EQ(e.rule_index, 0);
  CHECK_EQ(e.variant, 0);
  CHECK_EQ(e.bucket, -1);
  CHECK_EQ(e.enabled, 0); /* never for a non-boolean flag */
  CHECK_EQ(e.version, 7);
  CHECK_EQ(e.type, SK_TYPE_STRING);
  attrs[1] = number_attr("age", 17.99);
  e = typed_eval(store, "checkout", "u1", attrs, 3); /* AND fails; country FR: fallthrough */
  CHECK_EQ(e.reason, SK_REASON_ROLLOUT);
  CHECK_EQ(e.variant, 3);
  CHECK(e.bucket >= 0 && e.bucket < 1000);
  /* Splits by the user key, and by bucket_by when its value has text. */
  for (int i = 0; i < 200; i++) {
    char user[32];
    snprintf(user, sizeof user, "user-%d", i);
    attrs[2] = text_attr("country", "DE");
    int32_t bucket;
    int32_t expected = reference_split("checkout", user, variants, weights, 4, &bucket);
    e = typed_eval(store, "checkout", user, attrs, 3);
    CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
    CHECK_EQ(e.rule_index, 1);
    CHECK_EQ(e.variant, expected);
    CHECK_EQ(e.bucket, bucket);
    sk_typed_attribute with_company[4] = {attrs[0], attrs[1], attrs[2], text_attr("company", user)};
    e = typed_eval(store, "checkout", "someone-else", with_company, 4);
    CHECK_EQ(e.variant, expected);
    with_company[3] = number_attr("company", i);
    char digits[16];
    snprintf(digits, sizeof digits, "%d", i);
    expected = reference_split("checkout", digits, variants, weights, 4, &bucket);
    e = typed_eval(store, "checkout", "someone-else", with_company, 4);
    CHECK_EQ(e.bucket, bucket);
    with_company[3] = number_attr("company", i + 0.5); /* no text: the user key counts */
    expected = reference_split("checkout", "someone-else", variants, weights, 4, &bucket);
    e = typed_eval(store, "checkout", "someone-else", with_company, 4);
    CHECK_EQ(e.bucket, bucket);
    CHECK_EQ(e.variant, expected);
  }
  /* Off: the off variant. */
  CHECK_EQ(sk_flag_new_typed(S("checkout"), SK_TYPE_STRING, false, -1, 4, 8, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_off_variant(flag, 2), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_FALLTHROUGH, 1), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  e = typed_eval(store, "checkout", "u", NULL, 0);
  CHECK_EQ(e.reason, SK_REASON_OFF);
  CHECK_EQ(e.variant, 2);
  /* Not found. */
  e = typed_eval(store, "nope", "u", NULL, 0);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(e.variant, -1);
  CHECK_EQ(e.type, -1);
  /* The version 1 entry points see a non-boolean flag as never enabled. */
  CHECK_EQ(sk_store_is_enabled(store, S("checkout"), S("u"), NULL, 0), 0);
  /* Argument errors. */
  CHECK_EQ(sk_store_evaluate_typed(store, S("checkout"), S("u"), NULL, 1, &e),
           SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(e.reason, SK_REASON_FLAG_NOT_FOUND);
  sk_typed_attribute bad = {"a", 1, NULL, 3, 0.0, SK_VALUE_TEXT, 0};
  CHECK_EQ(sk_store_evaluate_typed(store, S("checkout"), S("u"), &bad, 1, &e),
           SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_evaluate_typed(NULL, S("checkout"), S("u"), NULL, 0, &e),
           SK_ERR_INVALID_ARGUMENT);
  CHECK_EQ(sk_store_evaluate_typed(store, S("checkout"), S("u"), NULL, 0, NULL),
           SK_ERR_INVALID_ARGUMENT);
  sk_store_free(store);
}

static void test_boolean_variants_and_splits(void) {
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(S("b"), true, 0, 1, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_bucket_by(flag, S("org")), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK); /* serves on */
  CHECK_EQ(sk_flag_add_value(flag, S("pro")), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("free")), SK_OK);
  CHECK_EQ(sk_flag_serve_variant(flag, SK_SERVE_RULE, SK_VARIANT_OFF), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("team")), SK_OK);
  const int32_t on_off[] = {SK_VARIANT_ON, SK_VARIANT_OFF};
  const uint32_t halves[] = {500, 500};
  CHECK_EQ(sk_flag_serve_split(flag, SK_SERVE_RULE, on_off, halves, 2), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_typed_attribute plan = text_attr("plan", "pro");
  sk_typed_evaluation e = typed_eval(store, "b", "u", &plan, 1);
  CHECK_EQ(e.variant, SK_VARIANT_ON);
  CHECK_EQ(e.enabled, 1);
  CHECK_EQ(e.type, SK_TYPE_BOOLEAN);
  plan = text_attr("plan", "free");
  e = typed_eval(store, "b", "u", &plan, 1);
  CHECK_EQ(e.reason, SK_REASON_RULE_MATCH);
  CHECK_EQ(e.variant, SK_VARIANT_OFF);
  CHECK_EQ(e.enabled, 0);
  int on = 0;
  for (int i = 0; i < 1000; i++) {
    char user[32];
    snprintf(user, sizeof user, "u%d", i);
    sk_typed_attribute team[2] = {text_attr("plan", "team"), text_attr("other", "x")};
    e = typed_eval(store, "b", user, team, 2);
    int32_t bucket;
    const int32_t expected = reference_split("b", user, on_off, halves, 2, &bucket);
    CHECK_EQ(e.variant, expected);
    CHECK_EQ(e.bucket, bucket);
    CHECK_EQ(e.enabled, expected == SK_VARIANT_ON);
    on += e.enabled;
    /* Version 1 evaluation reports the same. */
    sk_attribute v1 = attr("plan", "team");
    CHECK_EQ(sk_store_is_enabled(store, S("b"), S(user), &v1, 1), e.enabled);
  }
  CHECK(on > 430 && on < 570);
  /* The rollout hashes bucket_by too: a boolean `true` hashes as "true". */
  sk_store_clear(store);
  CHECK_EQ(sk_flag_new(S("r"), true, 50, 1, &flag), SK_OK);
  CHECK_EQ(sk_flag_set_bucket_by(flag, S("org")), SK_OK);
  CHECK_EQ(sk_store_upsert(store, flag), SK_OK);
  sk_typed_attribute org = bool_attr("org", true);
  e = typed_eval(store, "r", "anyone", &org, 1);
  CHECK_EQ(e.bucket, (int32_t)sk_bucket(S("r"), S("true")));
  org = other_attr("org");
  e = typed_eval(store, "r", "anyone", &org, 1);
  CHECK_EQ(e.bucket, (int32_t)sk_bucket(S("r"), S("anyone")));
  org = text_attr("org", "");
  e = typed_eval(store, "r", "anyone", &org, 1);
  CHECK_EQ(e.bucket, (int32_t)sk_bucket(S("r"), S("")));
  const sk_flag *handle = sk_store_find(store, S("r"));
  sk_typed_evaluation by_handle;
  CHECK_EQ(sk_flag_evaluate_typed(handle, S("anyone"), &org, 1, &by_handle), SK_OK);
  CHECK_EQ(by_handle.bucket, e.bucket);
  CHECK_EQ(by_handle.variant, e.variant);
  CHECK_EQ(sk_flag_evaluate_typed(NULL, S("anyone"), &org, 1, &by_handle), SK_OK);
  CHECK_EQ(by_handle.reason, SK_REASON_FLAG_NOT_FOUND);
  CHECK_EQ(sk_flag_evaluate_typed(handle, S("anyone"), &org, 1, NULL), SK_ERR_INVALID_ARGUMENT);
  sk_store_free(store);
}

int main(void) {
  RUN(test_abi_version_and_names);
  RUN(test_operator_parse);
  RUN(test_murmur_published_values);
  RUN(test_murmur_every_tail_length_and_alignment);
  RUN(test_bucket_is_hash_of_concatenation);
  RUN(test_flag_new_validates_key);
  RUN(test_flag_new_validates_rollout);
  RUN(test_flag_add_rule_errors);
  RUN(test_flag_add_value_errors);
  RUN(test_flag_free_null_and_unused);
  RUN(test_equals);
  RUN(test_not_equals);
  RUN(test_contains);
  RUN(test_starts_with);
  RUN(test_ends_with);
  RUN(test_unicode_is_compared_as_bytes);
  RUN(test_attributes_missing_and_duplicated);
  RUN(test_first_matching_rule_wins);
  RUN(test_kill_switch_beats_rules);
  RUN(test_rollout_percentages);
  RUN(test_rule_before_rollout_at_zero);
  RUN(test_large_value_lists);
  RUN(test_many_value_contains);
  RUN(test_many_value_starts_and_ends_with);
  RUN(test_long_contains_value);
  RUN(test_text_rules_with_10000_values);
  RUN(test_text_rules_agree_with_reference);
  RUN(test_many_contains_values_cost_linear_time);
  RUN(test_evaluate_argument_errors);
  RUN(test_store_new_free_and_null_handles);
  RUN(test_upsert_is_version_aware);
  RUN(test_remove_and_tombstones);
  RUN(test_many_flags_grow_and_shrink);
  RUN(test_copies_every_string);
  RUN(test_evaluate_by_handle);
  RUN(test_number_parse);
  RUN(test_semver);
  RUN(test_numeric_operators);
  RUN(test_semver_operators);
  RUN(test_text_of_typed_values);
  RUN(test_typed_flag_builder_errors);
  RUN(test_typed_evaluation);
  RUN(test_boolean_variants_and_splits);
  return harness_finish();
}
