/*
 * eval_bench.c — measures one evaluation of the C core in the four benchmark scenarios, with and
 * without the concurrent store's reader lock.
 *
 *   eval_bench time                     prints ns per evaluation for every scenario and mode
 *   eval_bench threads                  S1 from 1 and 2 threads at once: the reader lock's
 *                                       shared counter under contention
 *   eval_bench large [ROW]              the many-value rules against long attributes (below):
 *                                       microseconds per evaluation, median of 9 rounds
 *   eval_bench count SCENARIO METHOD N  runs exactly N evaluations (for callgrind: the
 *                                       difference between two N is the per-evaluation cost);
 *                                       METHOD 0 single-threaded store, 1 concurrent, 2 by handle
 *
 * S1: enabled, 100%, no rules. S2: 50% rollout over 10,000 users. S3: five rules on
 * email/plan/country that miss, then 50%. S4: one EndsWith "@acme.com" rule that matches.
 *
 * The large rows each evaluate one flag whose single rule has 10,000 values (a user's attribute
 * is untrusted input, so its length must not multiply the values' count); none of them matches,
 * so every evaluation reads all it has to:
 *   L1 Contains: 10,000 random words of 8-16 letters, a 400 KB attribute of random words
 *   L2 Contains, the automaton's worst case: values "a" x (1 + i % 64) then "b" and digits,
 *      against 400 KB of "a"
 *   L3 StartsWith: 10,000 values sharing a 48-byte prefix with the 400 KB attribute
 *   L4 EndsWith: the same mirrored
 *   L5 Equals: 10,000 values of 32 bytes sharing a 27-byte prefix, a 32-byte attribute
 *   L6 Equals: the same values against the 400 KB attribute of L1
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

/* ---- the large rows ------------------------------------------------------------------------ */

enum { LARGE_VALUES = 10000, LARGE_ATTRIBUTE = 400 * 1000, LARGE_ROWS = 6 };

static const char common_prefix[] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.";

static uint64_t xorshift64(uint64_t x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

/* Fills buf[0..len) with random lowercase words separated by single spaces. */
static void random_words(char *buf, size_t len, uint64_t *x) {
  for (size_t i = 0; i < len; i++) {
    *x = xorshift64(*x);
    buf[i] = *x % 8 == 0 ? ' ' : (char)('a' + (*x >> 8) % 26);
  }
}

typedef struct large_row {
  const char *name;
  sk_store *store;
  char *attribute;
  size_t attribute_len;
} large_row;

/* Builds row r's flag into its own store; the attribute is a fresh buffer. */
static large_row large_row_new(int r) {
  static const char *const row_names[LARGE_ROWS] = {
      "L1 contains 10k words x 400 KB", "L2 contains 10k a..ab x 400 KB a",
      "L3 starts_with 10k x 400 KB",    "L4 ends_with 10k x 400 KB",
      "L5 equals 10k x 32 B",           "L6 equals 10k x 400 KB"};
  static const int32_t ops[LARGE_ROWS] = {SK_OP_CONTAINS,  SK_OP_CONTAINS, SK_OP_STARTS_WITH,
                                          SK_OP_ENDS_WITH, SK_OP_EQUALS,   SK_OP_EQUALS};
  large_row row = {row_names[r], sk_store_new(SK_STORE_SINGLE_THREADED), NULL, 0};
  sk_flag *flag = NULL;
  check(sk_flag_new("large", 5, true, 0, 1, &flag), "sk_flag_new");
  check(sk_flag_add_rule(flag, "ua", 2, ops[r]), "sk_flag_add_rule");
  const size_t prefix_len = sizeof common_prefix - 1;
  uint64_t x = 0x2545f4914f6cdd1du + (uint64_t)r;
  char value[128];
  for (int i = 0; i < LARGE_VALUES; i++) {
    size_t n = 0;
    if (r == 0) {
      x = xorshift64(x);
      n = 8 + x % 9;
      for (size_t j = 0; j < n; j++) {
        x = xorshift64(x);
        value[j] = (char)('a' + (x >> 8) % 26);
      }
    } else if (r == 1) {
      n = 1 + (size_t)(i % 64);
      memset(value, 'a', n);
      n += (size_t)snprintf(value + n, sizeof value - n, "b%d", i);
    } else if (r == 2) {
      memcpy(value, common_prefix, prefix_len);
      n = prefix_len + (size_t)snprintf(value + prefix_len, sizeof value - prefix_len, "%05d", i);
    } else if (r == 3) {
      n = (size_t)snprintf(value, sizeof value, "%05d", i);
      memcpy(value + n, common_prefix, prefix_len);
      n += prefix_len;
    } else {
      n = (size_t)snprintf(value, sizeof value, "user-agent-group-0000-%05d-x", i);
      while (n < 32) {
        value[n++] = 'z';
      }
    }
    check(sk_flag_add_value(flag, value, n), "sk_flag_add_value");
  }
  check(sk_store_upsert(row.store, flag), "upsert large");

  row.attribute_len = r == 4 ? 32 : LARGE_ATTRIBUTE;
  row.attribute = malloc(row.attribute_len);
  if (row.attribute == NULL) {
    exit(2);
  }
  x = 0x9e3779b97f4a7c15u;
  if (r == 0 || r == 5) {
    random_words(row.attribute, row.attribute_len, &x);
  } else if (r == 1) {
    memset(row.attribute, 'a', row.attribute_len);
  } else if (r == 2) {
    memset(row.attribute, 'x', row.attribute_len);
    memcpy(row.attribute, common_prefix, prefix_len);
  } else if (r == 3) {
    memset(row.attribute, 'x', row.attribute_len);
    memcpy(row.attribute + row.attribute_len - prefix_len, common_prefix, prefix_len);
  } else {
    memcpy(row.attribute, "user-agent-group-0000-99999-zzzz", 32);
  }
  return row;
}

static long large_run(const large_row *row, long n) {
  const sk_attribute attributes[] = {{"ua", 2, row->attribute, row->attribute_len}};
  long enabled = 0;
  for (long i = 0; i < n; i++) {
    enabled += sk_store_is_enabled(row->store, "large", 5, "user-1", 6, attributes, 1);
  }
  return enabled;
}

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a;
  const double y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Microseconds per evaluation: the median of 9 rounds of about 2 ms each (one evaluation per
 * round when a single one takes longer; a single round when one takes over 2 s). */
static double large_us_per_eval(const large_row *row, long *enabled) {
  double start = now_ns();
  *enabled = large_run(row, 1);
  const double first = now_ns() - start;
  if (first > 2e9) {
    return first / 1e3;
  }
  long n = first > 2e6 ? 1 : (long)(2e6 / (first + 1.0)) + 1;
  double rounds[9];
  for (int i = 0; i < 9; i++) {
    start = now_ns();
    *enabled += large_run(row, n);
    rounds[i] = (now_ns() - start) / (double)n / 1e3;
  }
  qsort(rounds, 9, sizeof rounds[0], compare_doubles);
  return rounds[4];
}

static void print_large_table(int only) {
  printf("%-34s %14s %8s\n", "row", "us per eval", "enabled");
  for (int r = 0; r < LARGE_ROWS; r++) {
    if (only > 0 && r + 1 != only) {
      continue;
    }
    large_row row = large_row_new(r);
    long enabled = 0;
    const double us = large_us_per_eval(&row, &enabled);
    printf("%-34s %14.2f %8s\n", row.name, us, enabled != 0 ? "yes" : "no");
    fflush(stdout);
    sk_store_free(row.store);
    free(row.attribute);
  }
}

int main(int argc, char **argv) {
  if (argc >= 2 && argc <= 3 && strcmp(argv[1], "large") == 0) {
    print_large_table(argc == 3 ? atoi(argv[2]) : 0);
    return 0;
  }
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
    fprintf(stderr,
            "usage: eval_bench time | threads | large [ROW] | count SCENARIO(1-4) METHOD N\n"
            "  METHOD: 0 single-threaded store, 1 concurrent store, 2 by handle\n");
    return 2;
  }
  sk_store_free(b->stores[0]);
  sk_store_free(b->stores[1]);
  free(b);
  return 0;
}
