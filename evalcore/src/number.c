/*
 * number.c — JSON numbers to IEEE doubles, correctly rounded, without the C library.
 *
 * strtod reads the decimal point from the process's locale, so a host that calls setlocale
 * could change what a flag means; this parser depends on nothing outside this file. Most numbers
 * take the exact fast path (at most 15 significant digits and a power of ten up to 1e22 are both
 * exact doubles, so one IEEE multiplication or division rounds correctly). Others start from an
 * estimate within a few units in the last place and move to the nearest double by comparing the
 * decimal value with the midpoints between neighbouring doubles exactly, in big integers on the
 * stack: evaluation may parse a text attribute, and evaluation allocates nothing.
 */
#include "number.h"

#include <string.h>

/* Significant digits kept; the rest only say whether anything non-zero follows. 768 digits
 * decide any rounding between doubles, so the kept digits and that one bit settle every case. */
#define MAX_DIGITS 800
/* 32-bit limbs of the big integers: enough for 800 digits times 5^1124, or shifted by 2^1100. */
#define LIMBS 260

typedef struct big {
  uint32_t limb[LIMBS];
  size_t len; /* limbs in use; limb[len - 1] != 0 unless len == 0 */
} big;

static void big_set_u64(big *b, uint64_t v) {
  b->len = 0;
  while (v != 0) {
    b->limb[b->len++] = (uint32_t)v;
    v >>= 32;
  }
}

/* Returns false when the product would not fit (never, within the bounds stated above). */
static bool big_mul_add_small(big *b, uint32_t m, uint32_t add) {
  uint64_t carry = add;
  for (size_t i = 0; i < b->len; i++) {
    const uint64_t t = (uint64_t)b->limb[i] * m + carry;
    b->limb[i] = (uint32_t)t;
    carry = t >> 32;
  }
  if (carry != 0) {
    if (b->len == LIMBS) {
      return false;
    }
    b->limb[b->len++] = (uint32_t)carry;
  }
  return true;
}

static bool big_mul_pow5(big *b, uint32_t n) {
  static const uint32_t pow5[14] = {1,       5,        25,        125,       625,
                                    3125,    15625,    78125,     390625,    1953125,
                                    9765625, 48828125, 244140625, 1220703125};
  while (n >= 13) {
    if (!big_mul_add_small(b, pow5[13], 0)) {
      return false;
    }
    n -= 13;
  }
  return n == 0 || big_mul_add_small(b, pow5[n], 0);
}

static bool big_shl(big *b, uint32_t bits) {
  if (b->len == 0) {
    return true;
  }
  const size_t words = bits / 32;
  const unsigned rest = bits % 32;
  if (b->len + words + 1 > LIMBS) {
    return false;
  }
  if (rest != 0) {
    b->limb[b->len] = 0;
    for (size_t i = b->len; i > 0; i--) {
      b->limb[i] = (b->limb[i] << rest) | (b->limb[i - 1] >> (32 - rest));
    }
    b->limb[0] <<= rest;
    b->len++;
    if (b->limb[b->len - 1] == 0) {
      b->len--;
    }
  }
  if (words != 0) {
    memmove(b->limb + words, b->limb, b->len * sizeof b->limb[0]);
    memset(b->limb, 0, words * sizeof b->limb[0]);
    b->len += words;
  }
  return true;
}

static int big_cmp(const big *a, const big *b) {
  if (a->len != b->len) {
    return a->len < b->len ? -1 : 1;
  }
  for (size_t i = a->len; i > 0; i--) {
    if (a->limb[i - 1] != b->limb[i - 1]) {
      return a->limb[i - 1] < b->limb[i - 1] ? -1 : 1;
    }
  }
  return 0;
}

/* The decimal digits of a number, as the parser found them. */
typedef struct decimal {
  const char *digits; /* the first significant digit; '.' may appear among the next ones */
  size_t count;       /* significant digits kept (at most MAX_DIGITS) */
  int32_t exponent;   /* value = digits * 10^exponent */
  bool sticky;        /* a non-zero digit was dropped beyond MAX_DIGITS */
  bool negative;
} decimal;

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Reads JSON's number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?. */
static bool scan(const char *s, size_t n, decimal *out) {
  size_t i = 0;
  memset(out, 0, sizeof *out);
  if (i < n && s[i] == '-') {
    out->negative = true;
    i++;
  }
  if (i >= n || !is_digit(s[i])) {
    return false;
  }
  const size_t int_start = i;
  if (s[i] == '0') {
    i++;
  } else {
    while (i < n && is_digit(s[i])) {
      i++;
    }
  }
  const size_t int_end = i;
  size_t frac_start = i;
  size_t frac_end = i;
  if (i < n && s[i] == '.') {
    i++;
    frac_start = i;
    while (i < n && is_digit(s[i])) {
      i++;
    }
    frac_end = i;
    if (frac_end == frac_start) {
      return false;
    }
  }
  int64_t exp = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool exp_negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
      exp_negative = s[i] == '-';
      i++;
    }
    if (i >= n || !is_digit(s[i])) {
      return false;
    }
    while (i < n && is_digit(s[i])) {
      if (exp < 100000000) { /* far beyond any double; the rest cannot change the answer */
        exp = exp * 10 + (s[i] - '0');
      }
      i++;
    }
    if (exp_negative) {
      exp = -exp;
    }
  }
  if (i != n) {
    return false;
  }
  /* Find the significant digits across the integer and fraction parts. */
  int64_t exponent = exp - (int64_t)(frac_end - frac_start);
  size_t count = 0;
  size_t dropped = 0;
  bool started = false;
  for (size_t k = int_start; k < frac_end; k++) {
    if (k == int_end) {
      k = frac_start;
      if (k >= frac_end) {
        break;
      }
    }
    const char c = s[k];
    if (!started) {
      if (c == '0') {
        continue;
      }
      started = true;
      out->digits = s + k;
    }
    if (count < MAX_DIGITS) {
      count++;
    } else {
      dropped++;
      if (c != '0') {
        out->sticky = true;
      }
    }
  }
  out->count = count;
  exponent += (int64_t)dropped;
  if (exponent > 100000000) {
    exponent = 100000000;
  } else if (exponent < -100000000) {
    exponent = -100000000;
  }
  out->exponent = (int32_t)exponent;
  return true;
}

/* Calls visit-like logic: the kept digits in order, skipping the decimal point. */
static size_t next_digit_index(const char *digits, size_t pos) {
  return digits[pos] == '.' ? pos + 1 : pos;
}

static bool decimal_to_big(const decimal *d, big *out) {
  out->len = 0;
  size_t pos = 0;
  for (size_t k = 0; k < d->count; k++) {
    pos = next_digit_index(d->digits, pos);
    if (!big_mul_add_small(out, 10, (uint32_t)(d->digits[pos] - '0'))) {
      return false;
    }
    pos++;
  }
  return true;
}

static uint64_t double_bits(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  return bits;
}

static double bits_double(uint64_t bits) {
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

#define INFINITY_BITS 0x7ff0000000000000u

/* A non-negative double's bits (the infinity pattern reads as 2^1024) as m * 2^q. */
static void decompose(uint64_t bits, uint64_t *m, int32_t *q) {
  const uint64_t exponent = bits >> 52;
  const uint64_t fraction = bits & ((UINT64_C(1) << 52) - 1);
  if (exponent == 0) {
    *m = fraction;
    *q = -1074;
  } else {
    *m = fraction | (UINT64_C(1) << 52);
    *q = (int32_t)exponent - 1075;
  }
}

/* Compares digits * 10^exponent (plus the sticky bit) with the midpoint of the doubles with
 * bits lower and lower + 1. Returns -1, 0 or 1 (0 also when the big integers would overflow,
 * which the bounds on digits and exponents rule out). */
static int compare_with_midpoint(const decimal *d, const big *digits, uint64_t lower) {
  uint64_t ma;
  uint64_t mb;
  int32_t qa;
  int32_t qb;
  decompose(lower, &ma, &qa);
  decompose(lower + 1, &mb, &qb);
  const int32_t q0 = qa < qb ? qa : qb;
  const uint64_t n = (ma << (qa - q0)) + (mb << (qb - q0));
  const int32_t p = q0 - 1; /* midpoint = n * 2^p */

  big left = *digits;
  big right;
  big_set_u64(&right, n);
  bool fits = d->exponent >= 0 ? big_mul_pow5(&left, (uint32_t)d->exponent)
                               : big_mul_pow5(&right, (uint32_t)-d->exponent);
  if (d->exponent > p) {
    fits = fits && big_shl(&left, (uint32_t)(d->exponent - p));
  } else {
    fits = fits && big_shl(&right, (uint32_t)(p - d->exponent));
  }
  if (!fits) {
    return 0;
  }
  const int order = big_cmp(&left, &right);
  return order == 0 && d->sticky ? 1 : order;
}

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The positive value of the kept digits, correctly rounded. */
static double to_double(const decimal *d) {
  /* digits in [10^(count-1), 10^count), so the value lies below 10^magnitude. */
  const int64_t magnitude = (int64_t)d->exponent + (int64_t)d->count;
  if (magnitude > 310) {
    return bits_double(INFINITY_BITS);
  }
  if (magnitude < -324) {
    return 0.0;
  }
  uint64_t leading = 0;
  const size_t used = d->count < 19 ? d->count : 19;
  size_t pos = 0;
  for (size_t k = 0; k < used; k++) {
    pos = next_digit_index(d->digits, pos);
    leading = leading * 10 + (uint64_t)(d->digits[pos] - '0');
    pos++;
  }
  int32_t scale = d->exponent + (int32_t)(d->count - used);
  if (used == d->count && !d->sticky && used <= 15 && scale >= -22 && scale <= 22) {
    return scale >= 0 ? (double)leading * exact_pow10[scale]
                      : (double)leading / exact_pow10[-scale];
  }
  /* An estimate a few units in the last place away, then exact corrections. */
  double estimate = (double)leading;
  while (scale > 0) {
    const int32_t step = scale > 22 ? 22 : scale;
    estimate *= exact_pow10[step];
    scale -= step;
  }
  while (scale < 0) {
    const int32_t step = scale < -22 ? 22 : -scale;
    estimate /= exact_pow10[step];
    scale += step;
  }
  uint64_t bits = double_bits(estimate);
  if (bits >= INFINITY_BITS) {
    bits = INFINITY_BITS - 1;
  }
  big digits;
  if (!decimal_to_big(d, &digits)) {
    return estimate;
  }
  for (;;) {
    const int above = compare_with_midpoint(d, &digits, bits);
    if (above > 0 || (above == 0 && (bits & 1u) != 0)) {
      bits++;
      if (bits == INFINITY_BITS) {
        break;
      }
      continue;
    }
    if (bits > 0) {
      const int below = compare_with_midpoint(d, &digits, bits - 1);
      if (below < 0 || (below == 0 && (bits & 1u) != 0)) {
        bits--;
        continue;
      }
    }
    break;
  }
  return bits_double(bits);
}

bool sk_number_parse_text(const char *text, size_t text_len, double *out) {
  decimal d;
  if (!scan(text, text_len, &d)) {
    return false;
  }
  const double magnitude = d.count == 0 ? 0.0 : to_double(&d);
  *out = d.negative ? -magnitude : magnitude;
  return true;
}

int32_t sk_number_parse(const char *text, size_t text_len, double *out) {
  if (out == NULL || (text == NULL && text_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (text == NULL) {
    return SK_ERR_BAD_VALUE;
  }
  return sk_number_parse_text(text, text_len, out) ? SK_OK : SK_ERR_BAD_VALUE;
}
