/*
 * eval_bench.c — measures one evaluation of the C core in the four benchmark scenarios, with and
 * without the concurrent store's reader lock.
 *
 *   eval_bench time                     prints ns per evaluation for every scenario and mode
 *   eval_bench threads                  S1 from 1 and 2 threads at once: the reader lock's
 *                                       shared counter under contention
 *   eval_bench count SCENARIO METHOD N  runs exactly N evaluations (for callgrind: the
 *                                       difference between two N is the per-evaluation cost);
 *                                       METHOD 0 single-threaded store, 1 concurrent, 2 by handle
 *
 * S1: enabled, 100%, no rules. S2: 50% rollout over 10,000 users. S3: five rules on
 * email/plan/country that miss, then 50%. S4: one EndsWith "@acme.com" rule that matches.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sidekick.h"

enum { USERS = 10000, SCENARIOS = 4 };

typedef struct bench {
  sk_store *stores[2]; /* indexed by sk_store_mode */
  char users[USERS][16];
  size_t user_lens[USERS];
} bench;

static const char *const scenario_flags[SCENARIOS] = {"s1-on", "s2-half", "s3-rules",
                                                      "s4-ends-with"};

static sk_attribute attr(const char *name, const char *value) {
  sk_attribute a = {name, strlen(name), value, strlen(value)};
  return a;
}

static void check(int32_t status, const char *what) {
  if (status != SK_OK) {
    fprintf(stderr, "eval_bench: %s failed: %s\n", what, sk_status_name(status));
    exit(2);
  }
}

static void add_rule(sk_flag *flag, const char *attribute, int32_t op, const char *value) {
  check(sk_flag_add_rule(flag, attribute, strlen(attribute), op), "sk_flag_add_rule");
  check(sk_flag_add_value(flag, value, strlen(value)), "sk_flag_add_value");
}

static void fill_store(sk_store *store) {
  sk_flag *flag = NULL;
  check(sk_flag_new("s1-on", 5, true, -1, 1, &flag), "sk_flag_new");
  check(sk_store_upsert(store, flag), "upsert s1");

  check(sk_flag_new("s2-half", 7, true, 50, 1, &flag), "sk_flag_new");
  check(sk_store_upsert(store, flag), "upsert s2");

  check(sk_flag_new("s3-rules", 8, true, 50, 1, &flag), "sk_flag_new");
  add_rule(flag, "email", SK_OP_ENDS_WITH, "@acme.com");
  add_rule(flag, "plan", SK_OP_EQUALS, "enterprise");
  add_rule(flag, "country", SK_OP_EQUALS, "DE");
  add_rule(flag, "email", SK_OP_CONTAINS, "+beta");
  add_rule(flag, "plan", SK_OP_STARTS_WITH, "internal-");
  check(sk_store_upsert(store, flag), "upsert s3");

  check(sk_flag_new("s4-ends-with", 12, true, 0, 1, &flag), "sk_flag_new");
  add_rule(flag, "email", SK_OP_ENDS_WITH, "@acme.com");
  check(sk_store_upsert(store, flag), "upsert s4");

  /* Neighbours, so lookups happen in a table of realistic size. */
  char key[32];
  for (int i = 0; i < 200; i++) {
    const int n = snprintf(key, sizeof key, "other-flag-%d", i);
    check(sk_flag_new(key, (size_t)n, i % 3 != 0, i % 101, 1, &flag), "sk_flag_new");
    check(sk_store_upsert(store, flag), "upsert neighbour");
  }
}

static bench *bench_new(void) {
  bench *b = calloc(1, sizeof *b);
  if (b == NULL) {
    exit(2);
  }
  for (int mode = 0; mode < 2; mode++) {
    b->stores[mode] = sk_store_new(mode);
    fill_store(b->stores[mode]);
  }
  for (int i = 0; i < USERS; i++) {
    b->user_lens[i] = (size_t)snprintf(b->users[i], sizeof b->users[i], "user-%d", i);
  }
  return b;
}

/* Runs n evaluations of one scenario; returns how many were enabled so nothing is optimised
 * away. */
/* What run() measures: sk_store_is_enabled on either store, or sk_flag_is_enabled on a handle
 * from the single-threaded store. */
enum { BY_HANDLE = 2, METHODS = 3 };

static long run(const bench *b, int scenario, int method, long n) {
  const sk_store *store = b->stores[method == BY_HANDLE ? SK_STORE_SINGLE_THREADED : method];
  const char *flag = scenario_flags[scenario];
  const size_t flag_len = strlen(flag);
  sk_attribute missing[] = {attr("email", "jane@example.com"), attr("plan", "free"),
                            attr("country", "US")};
  sk_attribute staff[] = {attr("email", "jane@acme.com")};
  const sk_attribute *attributes = scenario == 2 ? missing : scenario == 3 ? staff : NULL;
  const size_t count = scenario == 2 ? 3 : scenario == 3 ? 1 : 0;
  long enabled = 0;
  int user = 0;
  if (method == BY_HANDLE) {
    const sk_flag *handle = sk_store_find(store, flag, flag_len);
    for (long i = 0; i < n; i++) {
      enabled += sk_flag_is_enabled(handle, b->users[user], b->user_lens[user], attributes, count);
      user = user + 1 == USERS ? 0 : user + 1;
    }
    return enabled;
  }
  for (long i = 0; i < n; i++) {
    enabled += sk_store_is_enabled(store, flag, flag_len, b->users[user], b->user_lens[user],
                                   attributes, count);
    user = user + 1 == USERS ? 0 : user + 1;
  }
  return enabled;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The best of several rounds: the least disturbed by everything else on the machine. */
static double ns_per_eval(const bench *b, int scenario, int method) {
  const long n = 2000000;
  double best = 1e30;
  volatile long sink = 0;
  for (int round = 0; round < 7; round++) {
    const double start = now_ns();
    sink += run(b, scenario, method, n);
    const double elapsed = (now_ns() - start) / (double)n;
    best = elapsed < best ? elapsed : best;
  }
  (void)sink;
  return best;
}

typedef struct thread_job {
  const bench *b;
  int mode;
  double ns;
} thread_job;

static void *thread_main(void *opaque) {
  thread_job *job = opaque;
  job->ns = ns_per_eval(job->b, 0, job->mode);
  return NULL;
}

/* Every thread evaluates S1 on the same store at the same time; reads without a writer are safe
 * in both modes, so the difference is what the lock's shared counter costs when cores share it. */
static void print_thread_table(const bench *b) {
  printf("%-8s %14s %14s\n", "threads", "single ns", "concurrent ns");
  for (int threads = 1; threads <= 2; threads++) {
    double ns[2];
    for (int mode = 0; mode < 2; mode++) {
      thread_job jobs[2];
      pthread_t ids[2];
      for (int t = 0; t < threads; t++) {
        jobs[t] = (thread_job){b, mode, 0};
        if (pthread_create(&ids[t], NULL, thread_main, &jobs[t]) != 0) {
          exit(2);
        }
      }
      ns[mode] = 0;
      for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        ns[mode] += jobs[t].ns / threads;
      }
    }
    printf("%-8d %14.1f %14.1f\n", threads, ns[0], ns[1]);
  }
}

int main(int argc, char **argv) {
  bench *b = bench_new();
  if (argc == 2 && strcmp(argv[1], "time") == 0) {
    printf("%-14s %14s %14s %10s %14s\n", "scenario", "single ns", "concurrent ns", "lock ns",
           "by handle ns");
    for (int s = 0; s < SCENARIOS; s++) {
      const double single = ns_per_eval(b, s, SK_STORE_SINGLE_THREADED);
      const double concurrent = ns_per_eval(b, s, SK_STORE_CONCURRENT);
      const double handle = ns_per_eval(b, s, BY_HANDLE);
      printf("S%d %-11s %14.1f %14.1f %10.1f %14.1f\n", s + 1, scenario_flags[s], single,
             concurrent, concurrent - single, handle);
    }
  } else if (argc == 2 && strcmp(argv[1], "threads") == 0) {
    print_thread_table(b);
  } else if (argc == 5 && strcmp(argv[1], "count") == 0) {
    const int scenario = atoi(argv[2]) - 1;
    const int method = atoi(argv[3]);
    const long n = atol(argv[4]);
    if (scenario < 0 || scenario >= SCENARIOS || method < 0 || method >= METHODS || n < 0) {
      fprintf(stderr, "eval_bench: bad arguments\n");
      return 2;
    }
    volatile long sink = run(b, scenario, method, n);
    (void)sink;
  } else {
    fprintf(stderr, "usage: eval_bench time | threads | count SCENARIO(1-4) METHOD N\n"
                    "  METHOD: 0 single-threaded store, 1 concurrent store, 2 by handle\n");
    return 2;
  }
  sk_store_free(b->stores[0]);
  sk_store_free(b->stores[1]);
  free(b);
  return 0;
}
