/*
 * test_nomem.c — every allocation the core makes is failed in turn: each failing call must
 * report SK_ERR_NOMEM (or NULL), change nothing, and leak nothing (LeakSanitizer checks the
 * last part at exit).
 */
#include <stdint.h>
#include <stdlib.h>

#include "alloc_fault.h"
#include "harness.h"
#include "sidekick.h"

enum { MAX_ALLOCATIONS = 10000 };

static sk_attribute attr(const char *name, const char *value) {
  sk_attribute a = {name, strlen(name), value, strlen(value)};
  return a;
}

/* Runs one call, and once more if it failed for lack of memory (the injected failure is
 * one-shot); counts the failures seen. */
#define RETRY(call, nomem_count)                                                                   \
  do {                                                                                             \
    int32_t retry_status_ = (call);                                                                \
    if (retry_status_ == SK_ERR_NOMEM) {                                                           \
      (nomem_count)++;                                                                             \
      retry_status_ = (call);                                                                      \
    }                                                                                              \
    CHECK_EQ(retry_status_, SK_OK);                                                                \
  } while (0)

/* Builds a flag with failures injected; failed builder calls must leave it as it was, which the
 * evaluations at the end prove (a half-added value or rule would change an answer). */
static void build_and_store_with_failure_at(long index) {
  alloc_fault_arm(index);
  int nomem = 0;
  sk_flag *flag = NULL;
  int32_t status = sk_flag_new(S("built"), true, 0, 1, &flag);
  if (status == SK_ERR_NOMEM) {
    nomem++;
    CHECK(flag == NULL);
    status = sk_flag_new(S("built"), true, 0, 1, &flag);
  }
  CHECK_EQ(status, SK_OK);
  RETRY(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), nomem);
  char value[16];
  for (int i = 0; i < 40; i++) {
    const int n = snprintf(value, sizeof value, "v%d", i);
    RETRY(sk_flag_add_value(flag, value, (size_t)n), nomem);
  }
  RETRY(sk_flag_add_rule(flag, S("email"), SK_OP_ENDS_WITH), nomem);
  RETRY(sk_flag_add_value(flag, S("@acme.com")), nomem);

  sk_store *store = sk_store_new(SK_STORE_CONCURRENT);
  if (store == NULL) {
    nomem++;
    store = sk_store_new(SK_STORE_CONCURRENT);
  }
  CHECK(store != NULL);
  status = sk_store_upsert(store, flag); /* takes the flag either way */
  const bool fired = alloc_fault_fired();
  alloc_fault_disarm();
  CHECK(nomem <= 1);
  CHECK(nomem == 0 || fired);

  if (status == SK_ERR_NOMEM) {
    CHECK_EQ(sk_store_count(store), 0);
    CHECK_EQ(sk_store_is_enabled(store, S("built"), S("u"), NULL, 0), 0);
  } else {
    CHECK_EQ(status, SK_OK);
    sk_attribute plan[] = {attr("plan", "v39")};
    sk_attribute email[] = {attr("email", "a@acme.com")};
    sk_attribute other[] = {attr("plan", "v40")};
    sk_evaluation e;
    CHECK_EQ(sk_store_evaluate(store, S("built"), S("u"), plan, 1, &e), SK_OK);
    CHECK_EQ(e.rule_index, 0);
    CHECK_EQ(sk_store_evaluate(store, S("built"), S("u"), email, 1, &e), SK_OK);
    CHECK_EQ(e.rule_index, 1);
    CHECK_EQ(sk_store_evaluate(store, S("built"), S("u"), other, 1, &e), SK_OK);
    CHECK_EQ(e.enabled, 0);
  }
  sk_store_free(store);
}

/* A flag whose rules get text matchers at upsert (many values, or one long Contains value):
 * every allocation of building them is failed in turn; a failed upsert stores nothing, a
 * successful one answers as the values say. */
static void matcher_upsert_with_failure_at(long index) {
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(S("matched"), true, 0, 1, &flag), SK_OK);
  static const int32_t ops[] = {SK_OP_CONTAINS, SK_OP_STARTS_WITH, SK_OP_ENDS_WITH};
  static const char *const names[] = {"c", "s", "e"};
  char value[16];
  for (int r = 0; r < 3; r++) {
    CHECK_EQ(sk_flag_add_rule(flag, S(names[r]), ops[r]), SK_OK);
    for (int i = 0; i < 12; i++) {
      const int n = snprintf(value, sizeof value, "%c%d.", 'k' + r, i);
      CHECK_EQ(sk_flag_add_value(flag, value, (size_t)n), SK_OK);
    }
  }
  CHECK_EQ(sk_flag_add_rule(flag, S("long"), SK_OP_CONTAINS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("0123456789abcdef0123456789abcdef!")), SK_OK);
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  CHECK(store != NULL);

  alloc_fault_arm(index);
  const int32_t status = sk_store_upsert(store, flag); /* takes the flag either way */
  alloc_fault_disarm();

  if (status == SK_ERR_NOMEM) {
    CHECK_EQ(sk_store_count(store), 0);
  } else {
    CHECK_EQ(status, SK_OK);
    sk_attribute hits[] = {attr("c", "xxk11.yy"), attr("s", "l3.z"), attr("e", "wm7."),
                           attr("long", "<0123456789abcdef0123456789abcdef!>")};
    sk_attribute misses[] = {attr("c", "k12"), attr("s", "zl3."), attr("e", "m7"),
                             attr("long", "0123456789abcdef0123456789abcdef")};
    sk_evaluation e;
    for (int r = 0; r < 4; r++) {
      CHECK_EQ(sk_store_evaluate(store, S("matched"), S("u"), &hits[r], 1, &e), SK_OK);
      CHECK_EQ(e.rule_index, r);
      CHECK_EQ(sk_store_is_enabled(store, S("matched"), S("u"), &misses[r], 1), 0);
    }
  }
  sk_store_free(store);
}

static sk_flag *flag_numbered(int i, uint64_t version) {
  char key[16];
  const int n = snprintf(key, sizeof key, "f%d", i);
  sk_flag *flag = NULL;
  CHECK_EQ(sk_flag_new(key, (size_t)n, i % 2 == 0, -1, version, &flag), SK_OK);
  CHECK_EQ(sk_flag_add_rule(flag, S("plan"), SK_OP_EQUALS), SK_OK);
  CHECK_EQ(sk_flag_add_value(flag, S("pro")), SK_OK);
  return flag;
}

static bool numbered_present(const sk_store *store, int i) {
  char key[16];
  const int n = snprintf(key, sizeof key, "f%d", i);
  return sk_store_version(store, key, (size_t)n) != 0;
}

/* Store writes with failures injected: a failed write leaves the store exactly as it was. */
static void store_writes_with_failure_at(long index) {
  sk_store *store = sk_store_new(SK_STORE_CONCURRENT);
  for (int i = 0; i < 11; i++) { /* one short of the first table growth */
    CHECK_EQ(sk_store_upsert(store, flag_numbered(i, 1)), SK_OK);
  }

  /* Built before arming so that only the store's own allocations can fail. */
  sk_flag *grows = flag_numbered(11, 1);
  sk_flag *replaces = flag_numbered(0, 2);
  alloc_fault_arm(index);
  int32_t status = sk_store_upsert(store, grows);
  CHECK(status == SK_OK || status == SK_ERR_NOMEM);
  CHECK_EQ(numbered_present(store, 11), status == SK_OK);
  CHECK_EQ(sk_store_count(store), status == SK_OK ? 12 : 11);

  status = sk_store_upsert(store, replaces);
  CHECK(status == SK_OK || status == SK_ERR_NOMEM);
  CHECK_EQ(sk_store_version(store, S("f0")), status == SK_OK ? 2 : 1);

  status = sk_store_remove(store, S("f1"), 5); /* leaves a tombstone */
  CHECK(status == SK_OK || status == SK_ERR_NOMEM);
  CHECK_EQ(numbered_present(store, 1), status == SK_ERR_NOMEM);

  status = sk_store_remove(store, S("never"), 5); /* a tombstone for an absent key */
  CHECK(status == SK_ERR_NOT_FOUND || status == SK_ERR_NOMEM);
  const bool remembered = status == SK_ERR_NOT_FOUND;
  alloc_fault_disarm();

  /* Only a recorded tombstone keeps an older upsert out. */
  sk_flag *older = NULL;
  CHECK_EQ(sk_flag_new(S("never"), true, -1, 4, &older), SK_OK);
  CHECK_EQ(sk_store_upsert(store, older), remembered ? SK_IGNORED_STALE : SK_OK);
  for (int i = 2; i < 11; i++) {
    CHECK(numbered_present(store, i));
  }
  sk_store_free(store);
}

/* Runs a scenario with the 0th, 1st, 2nd, ... allocation failing until one run completes
 * without reaching the armed index: then every allocation site has been failed once. */
static void fail_every_allocation(void (*scenario)(long), int *runs) {
  for (long index = 0; index < MAX_ALLOCATIONS; index++) {
    scenario(index);
    (*runs)++;
    if (!alloc_fault_fired()) {
      return;
    }
  }
  CHECK(!"scenario never completed without a failure");
}

static void test_builder_and_upsert_out_of_memory(void) {
  int runs = 0;
  fail_every_allocation(build_and_store_with_failure_at, &runs);
  CHECK(runs > 10); /* the scenario really allocates: the injector reached it */
}

static void test_store_writes_out_of_memory(void) {
  int runs = 0;
  fail_every_allocation(store_writes_with_failure_at, &runs);
  CHECK(runs > 3);
}

static void test_text_matchers_out_of_memory(void) {
  int runs = 0;
  fail_every_allocation(matcher_upsert_with_failure_at, &runs);
  CHECK(runs > 10); /* every rule's matcher allocates several arrays */
}

static void test_store_new_out_of_memory(void) {
  alloc_fault_arm(0);
  CHECK(sk_store_new(SK_STORE_SINGLE_THREADED) == NULL);
  CHECK(alloc_fault_fired());
  alloc_fault_disarm();
}

/* A typed flag using every version 2 allocation (conditions, bucket_by, splits, numeric values,
 * the simple-rule array of a boolean flag is covered by build_and_store_with_failure_at): a
 * failed builder call leaves the flag as it was, a failed upsert stores nothing, and a stored
 * flag answers as built. */
static void typed_build_with_failure_at(long index) {
  alloc_fault_arm(index);
  int nomem = 0;
  sk_flag *flag = NULL;
  int32_t status = sk_flag_new_typed(S("typed"), SK_TYPE_STRING, true, -1, 3, 1, &flag);
  if (status == SK_ERR_NOMEM) {
    nomem++;
    status = sk_flag_new_typed(S("typed"), SK_TYPE_STRING, true, -1, 3, 1, &flag);
  }
  CHECK_EQ(status, SK_OK);
  RETRY(sk_flag_set_bucket_by(flag, S("org")), nomem);
  RETRY(sk_flag_set_off_variant(flag, 0), nomem);
  const int32_t variants[] = {1, 2};
  const uint32_t weights[] = {0, 1000};
  RETRY(sk_flag_serve_split(flag, SK_SERVE_FALLTHROUGH, variants, weights, 2), nomem);
  RETRY(sk_flag_begin_rule(flag), nomem);
  RETRY(sk_flag_add_condition(flag, S("age"), SK_OP_GTE, false), nomem);
  RETRY(sk_flag_add_value(flag, S("18")), nomem);
  RETRY(sk_flag_add_condition(flag, S("country"), SK_OP_EQUALS, true), nomem);
  RETRY(sk_flag_add_value(flag, S("FR")), nomem);
  RETRY(sk_flag_add_condition(flag, S("app"), SK_OP_SEMVER_GT, false), nomem);
  RETRY(sk_flag_add_value(flag, S("1.2.3")), nomem);
  RETRY(sk_flag_serve_variant(flag, SK_SERVE_RULE, 1), nomem);
  sk_store *store = sk_store_new(SK_STORE_SINGLE_THREADED);
  if (store == NULL) {
    nomem++;
    store = sk_store_new(SK_STORE_SINGLE_THREADED);
  }
  CHECK(store != NULL);
  status = sk_store_upsert(store, flag);
  const bool fired = alloc_fault_fired();
  alloc_fault_disarm();
  CHECK(nomem <= 1);
  CHECK(nomem == 0 || fired);
  if (status == SK_ERR_NOMEM) {
    CHECK_EQ(sk_store_count(store), 0);
  } else {
    CHECK_EQ(status, SK_OK);
    sk_typed_attribute attributes[3] = {
        {"age", 3, NULL, 0, 21.0, SK_VALUE_NUMBER, 0},
        {"country", 7, "DE", 2, 0.0, SK_VALUE_TEXT, 0},
        {"app", 3, "1.10.0", 6, 0.0, SK_VALUE_TEXT, 0},
    };
    sk_typed_evaluation e;
    CHECK_EQ(sk_store_evaluate_typed(store, S("typed"), S("u"), attributes, 3, &e), SK_OK);
    CHECK_EQ(e.rule_index, 0);
    CHECK_EQ(e.variant, 1);
    attributes[1].text = "FR";
    CHECK_EQ(sk_store_evaluate_typed(store, S("typed"), S("u"), attributes, 3, &e), SK_OK);
    CHECK_EQ(e.reason, SK_REASON_ROLLOUT);
    CHECK_EQ(e.variant, 2);
  }
  sk_store_free(store);
}

static void test_typed_flags_out_of_memory(void) {
  int runs = 0;
  fail_every_allocation(typed_build_with_failure_at, &runs);
  CHECK(runs > 10);
}

int main(void) {
  RUN(test_store_new_out_of_memory);
  RUN(test_builder_and_upsert_out_of_memory);
  RUN(test_store_writes_out_of_memory);
  RUN(test_text_matchers_out_of_memory);
  RUN(test_typed_flags_out_of_memory);
  return harness_finish();
}
