/*
 * bytes.h — byte-string equality for the short strings evaluation compares (keys, attribute
 * names, values), inlined so that a 5-byte compare is a few instructions, not a libc call.
 *
 * Private to the core.
 */
#ifndef SK_BYTES_H
#define SK_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether n bytes at a equal n bytes at b (either may be NULL only when n is 0). Fixed-size
 * memcpy is how C reads an unaligned word; compilers emit a single load for it. */
static inline bool sk_bytes_equal(const char *a, const char *b, size_t n) {
  if (n >= 8) {
    for (; n > 8; n -= 8, a += 8, b += 8) {
      uint64_t x;
      uint64_t y;
      memcpy(&x, a, 8);
      memcpy(&y, b, 8);
      if (x != y) {
        return false;
      }
    }
    /* The last 8 bytes, overlapping what was already compared. */
    uint64_t x;
    uint64_t y;
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x1;
    uint32_t y1;
    uint32_t x2;
    uint32_t y2;
    memcpy(&x1, a, 4);
    memcpy(&y1, b, 4);
    memcpy(&x2, a + n - 4, 4);
    memcpy(&y2, b + n - 4, 4);
    return x1 == y1 && x2 == y2;
  }
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

#endif /* SK_BYTES_H */
