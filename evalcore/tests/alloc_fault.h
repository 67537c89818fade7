/*
 * alloc_fault.h — routes the core's allocations through a fault injector (test builds only).
 *
 * Force-included before everything else when compiling the core for test_nomem, so that the
 * core's malloc/calloc/realloc calls become calls to the wrappers in alloc_fault.c, which can be
 * told to fail one particular allocation.
 */
#ifndef SK_ALLOC_FAULT_H
#define SK_ALLOC_FAULT_H

#include <stddef.h>

void *sk_test_malloc(size_t size);
void *sk_test_calloc(size_t count, size_t size);
void *sk_test_realloc(void *ptr, size_t size);

/* Makes the allocation with this 0-based index (counted from now) fail. */
void alloc_fault_arm(long index);
/* Lets every further allocation succeed; alloc_fault_fired still reports the last arming. */
void alloc_fault_disarm(void);
/* Whether the armed failure has happened since alloc_fault_arm. */
int alloc_fault_fired(void);

#define malloc  sk_test_malloc
#define calloc  sk_test_calloc
#define realloc sk_test_realloc

#endif /* SK_ALLOC_FAULT_H */
