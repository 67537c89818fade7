/*
 * harness.h — a minimal test harness: CHECK macros and a runner whose last line is
 * "N passed, N failed".
 */
#ifndef SK_TEST_HARNESS_H
#define SK_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

typedef struct test_run {
  int passed;
  int failed;
  int current_failures;
} test_run;

/* One per test binary: the harness needs a place to count failures inside a test. */
static test_run harness;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      harness.current_failures++;                                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
    }                                                                                              \
  } while (0)

#define CHECK_EQ(actual, expected)                                                                 \
  do {                                                                                             \
    const long long check_actual_ = (long long)(actual);                                           \
    const long long check_expected_ = (long long)(expected);                                       \
    if (check_actual_ != check_expected_) {                                                        \
      harness.current_failures++;                                                                  \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", __FILE__,       \
              __LINE__, #actual, check_actual_, #expected, check_expected_);                       \
    }                                                                                              \
  } while (0)

#define RUN(test)                                                                                  \
  do {                                                                                             \
    harness.current_failures = 0;                                                                  \
    test();                                                                                        \
    if (harness.current_failures == 0) {                                                           \
      harness.passed++;                                                                            \
    } else {                                                                                       \
      harness.failed++;                                                                            \
      fprintf(stderr, "FAIL %s\n", #test);                                                         \
    }                                                                                              \
  } while (0)

/* Prints the summary line and returns the process exit status. */
static inline int harness_finish(void) {
  printf("%d passed, %d failed\n", harness.passed, harness.failed);
  return harness.failed == 0 ? 0 : 1;
}

/* A NUL-terminated literal or string as the (pointer, length) pair the API takes. */
#define S(str) (str), strlen(str)

#endif /* SK_TEST_HARNESS_H */
