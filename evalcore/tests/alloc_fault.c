/*
 * alloc_fault.c — allocation wrappers that fail on demand, for the out-of-memory tests.
 *
 * Compiled without alloc_fault.h's macros so that it reaches the real allocator.
 */
#include <stdlib.h>

void *sk_test_malloc(size_t size);
void *sk_test_calloc(size_t count, size_t size);
void *sk_test_realloc(void *ptr, size_t size);
void alloc_fault_arm(long index);
void alloc_fault_disarm(void);
int alloc_fault_fired(void);

/* Test-only process state: the injector has to be reachable from inside the core's calls. */
static long countdown = -1;
static int fired;

void alloc_fault_arm(long index) {
  countdown = index;
  fired = 0;
}

void alloc_fault_disarm(void) {
  countdown = -1;
}

int alloc_fault_fired(void) {
  return fired;
}

static int should_fail(void) {
  if (countdown < 0) {
    return 0;
  }
  if (countdown-- == 0) {
    fired = 1;
    return 1;
  }
  return 0;
}

void *sk_test_malloc(size_t size) {
  return should_fail() ? NULL : malloc(size);
}

void *sk_test_calloc(size_t count, size_t size) {
  return should_fail() ? NULL : calloc(count, size);
}

void *sk_test_realloc(void *ptr, size_t size) {
  return should_fail() ? NULL : realloc(ptr, size);
}
