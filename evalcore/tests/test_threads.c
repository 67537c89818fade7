/*
 * test_threads.c — readers evaluate a concurrent store while one writer keeps replacing,
 * adding and erasing flags; any torn or lost read fails the test.
 *
 * Every version of the flag "flip" answers in a way tied to its version: an even version turns
 * the user on through its rule, an odd one has no rule and a 0% rollout. A reader that saw a
 * half-written record, a freed one, or a table being rebuilt would break that link, miss one of
 * the flags that never change, or see versions go backwards.
 */
#define _POSIX_C_SOURCE 200809L /* sched_yield */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "sidekick.h"

/* After every write the writer waits until some reader has finished an evaluation, so reads and
 * writes interleave however the threads get scheduled: a writer writing back to back would keep
 * the writer-preferring lock to itself, and on a loaded machine readers would run only while it
 * is preempted. MAX_WAIT_YIELDS bounds that wait so a stuck reader fails the test, not hangs it. */
enum { READERS = 3, WRITES = 3000, STABLE_FLAGS = 64 };
#define MAX_WAIT_YIELDS 2000000L

typedef struct shared {
  sk_store *store;
  atomic_int readers_started;
  atomic_bool writer_done;
  atomic_long progress[READERS]; /* evaluations of "flip" per reader so far */
} shared;

typedef struct reader_result {
  long evaluations;
  long inconsistent;
  long missing;
  long went_backwards;
  long saw_even;
  long saw_odd;
} reader_result;

typedef struct reader_args {
  shared *shared;
  int index;
  reader_result result;
} reader_args;

static sk_flag *flip_version(uint64_t version) {
  sk_flag *flag = NULL;
  if (sk_flag_new("flip", 4, true, 0, version, &flag) != SK_OK) {
    return NULL;
  }
  if (version % 4 == 2) {
    /* The same rule in version 2's form, serving on through a split: typed records (their
     * conditions and split arrays) are swapped and freed under readers too. */
    static const int32_t on[] = {SK_VARIANT_OFF, SK_VARIANT_ON};
    static const uint32_t all_on[] = {0, 1000};
    sk_flag_begin_rule(flag);
    sk_flag_add_condition(flag, "email", 5, SK_OP_ENDS_WITH, false);
    sk_flag_add_value(flag, "@example.org", 12);
    sk_flag_add_value(flag, "@acme.com", 9);
    sk_flag_serve_split(flag, SK_SERVE_RULE, on, all_on, 2);
  } else if (version % 2 == 0) {
    sk_flag_add_rule(flag, "email", 5, SK_OP_ENDS_WITH);
    sk_flag_add_value(flag, "@example.org", 12);
    sk_flag_add_value(flag, "@acme.com", 9);
  }
  return flag;
}

static int stable_key(char *buffer, size_t size, int i) {
  return snprintf(buffer, size, "stable-%d", i);
}

static void *reader(void *opaque) {
  reader_args *args = opaque;
  reader_result *r = &args->result;
  const sk_attribute email = {"email", 5, "jane@acme.com", 13};
  uint64_t last_version = 0;
  char key[32];
  int stable = 0;
  bool done = false;
  atomic_fetch_add(&args->shared->readers_started, 1);
  while (!done) {
    /* Read the flag once more after the writer finished, so the last state is checked too. */
    done = atomic_load(&args->shared->writer_done);
    sk_evaluation e;
    sk_store_evaluate(args->shared->store, "flip", 4, "user", 4, &email, 1, &e);
    r->evaluations++;
    atomic_store_explicit(&args->shared->progress[args->index], r->evaluations,
                          memory_order_relaxed);
    if (e.reason == SK_REASON_FLAG_NOT_FOUND) {
      r->missing++;
      continue;
    }
    const bool even = e.version % 2 == 0;
    const bool consistent =
        even ? (e.enabled == 1 && e.reason == SK_REASON_RULE_MATCH && e.rule_index == 0)
             : (e.enabled == 0 && e.reason == SK_REASON_ROLLOUT && e.rule_index == -1 &&
                e.bucket == -1);
    r->inconsistent += !consistent;
    r->went_backwards += e.version < last_version;
    last_version = e.version;
    r->saw_even += even;
    r->saw_odd += !even;

    /* The typed entry point sees the same records. */
    const sk_typed_attribute typed_email = {"email", 5, "jane@acme.com", 13, 0.0, SK_VALUE_TEXT, 0};
    sk_typed_evaluation t;
    sk_store_evaluate_typed(args->shared->store, "flip", 4, "user", 4, &typed_email, 1, &t);
    if (t.reason != SK_REASON_FLAG_NOT_FOUND) {
      const bool typed_even = t.version % 2 == 0;
      r->inconsistent += typed_even ? !(t.variant == SK_VARIANT_ON && t.enabled == 1)
                                    : !(t.variant == SK_VARIANT_OFF && t.enabled == 0);
      r->went_backwards += t.version < last_version;
    }

    const int n = stable_key(key, sizeof key, stable);
    stable = (stable + 1) % STABLE_FLAGS;
    r->missing += sk_store_is_enabled(args->shared->store, key, (size_t)n, "u", 1, NULL, 0) != 1;
  }
  return NULL;
}

static long total_progress(shared *s) {
  long total = 0;
  for (int i = 0; i < READERS; i++) {
    total += atomic_load(&s->progress[i]);
  }
  return total;
}

/* Waits until a reader completes an evaluation; false if none does within the bound. It polls
 * first (a reader on another core answers within microseconds) and only then yields, because a
 * yield can cost the writer a whole scheduler slice when readers outnumber cores. */
static bool wait_for_a_read(shared *s) {
  const long before = total_progress(s);
  for (long i = 0; i < MAX_WAIT_YIELDS; i++) {
    for (int poll = 0; poll < 10000; poll++) {
      if (total_progress(s) != before) {
        return true;
      }
    }
    sched_yield();
  }
  return false;
}

static void test_readers_never_see_torn_flags(void) {
  static shared s; /* zeroed: counters start at 0, writer_done false */
  s.store = sk_store_new(SK_STORE_CONCURRENT);
  CHECK(s.store != NULL);
  char key[32];
  for (int i = 0; i < STABLE_FLAGS; i++) {
    const int n = stable_key(key, sizeof key, i);
    sk_flag *flag = NULL;
    CHECK_EQ(sk_flag_new(key, (size_t)n, true, -1, 1, &flag), SK_OK);
    CHECK_EQ(sk_store_upsert(s.store, flag), SK_OK);
  }
  CHECK_EQ(sk_store_upsert(s.store, flip_version(1)), SK_OK);

  reader_args args[READERS];
  pthread_t threads[READERS];
  for (int i = 0; i < READERS; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].shared = &s;
    args[i].index = i;
    CHECK_EQ(pthread_create(&threads[i], NULL, reader, &args[i]), 0);
  }
  while (atomic_load(&s.readers_started) < READERS) {
    sched_yield();
  }

  /* The writer: new versions of "flip", plus churn that grows the table and shifts probe runs. */
  int extra = 0;
  uint64_t version = 1;
  bool readers_kept_up = true;
  while (version < WRITES && readers_kept_up) {
    version++;
    CHECK_EQ(sk_store_upsert(s.store, flip_version(version)), SK_OK);
    CHECK_EQ(sk_store_upsert(s.store, flip_version(version - 1)), SK_IGNORED_STALE);
    if (version % 8 == 0) {
      const int n = snprintf(key, sizeof key, "extra-%d", extra++);
      sk_flag *flag = NULL;
      CHECK_EQ(sk_flag_new(key, (size_t)n, true, 50, 0, &flag), SK_OK);
      CHECK_EQ(sk_store_upsert(s.store, flag), SK_OK);
    }
    if (version % 256 == 0) {
      for (int i = 0; i < extra; i += 2) {
        const int n = snprintf(key, sizeof key, "extra-%d", i);
        sk_store_remove(s.store, key, (size_t)n, 0);
      }
    }
    readers_kept_up = wait_for_a_read(&s);
  }
  atomic_store(&s.writer_done, true);
  CHECK(readers_kept_up);

  long evaluations = 0;
  long saw_even = 0;
  long saw_odd = 0;
  for (int i = 0; i < READERS; i++) {
    CHECK_EQ(pthread_join(threads[i], NULL), 0);
    const reader_result *r = &args[i].result;
    CHECK_EQ(r->inconsistent, 0);
    CHECK_EQ(r->missing, 0);
    CHECK_EQ(r->went_backwards, 0);
    evaluations += r->evaluations;
    saw_even += r->saw_even;
    saw_odd += r->saw_odd;
  }
  CHECK(saw_even > 0 && saw_odd > 0); /* the readers really watched the flag change */
  CHECK_EQ(sk_store_version(s.store, "flip", 4), WRITES);
  printf("threads: %d readers, %ld evaluations (%ld of even versions, %ld of odd), %llu writes\n",
         READERS, evaluations, saw_even, saw_odd, (unsigned long long)version);
  sk_store_free(s.store);
}

/* The check above must be able to fail: a record whose answer does not fit its version is
 * caught by the same predicate the readers use. */
static void test_inconsistency_is_detectable(void) {
  sk_store *store = sk_store_new(SK_STORE_CONCURRENT);
  sk_flag *wrong = flip_version(3);
  sk_flag_add_rule(wrong, "email", 5, SK_OP_ENDS_WITH);
  sk_flag_add_value(wrong, "@acme.com", 9);
  CHECK_EQ(sk_store_upsert(store, wrong), SK_OK);
  const sk_attribute email = {"email", 5, "jane@acme.com", 13};
  sk_evaluation e;
  CHECK_EQ(sk_store_evaluate(store, "flip", 4, "user", 4, &email, 1, &e), SK_OK);
  CHECK(e.version % 2 == 1 && e.enabled == 1); /* odd yet on: what a torn read would look like */
  sk_store_free(store);
}

int main(void) {
  RUN(test_inconsistency_is_detectable);
  RUN(test_readers_never_see_torn_flags);
  return harness_finish();
}
