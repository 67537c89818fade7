/*
 * test_core.c — single-threaded tests of the whole public API in sidekick.h.
 */
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
  CHECK(strcmp(sk_status_name(-11), "SK_UNKNOWN") == 0);
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
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), 5), SK_ERR_BAD_OPERATOR);
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
  return harness_finish();
}
