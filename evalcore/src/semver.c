/*
 * semver.c — SemVer 2.0.0 parsing and precedence (see semver.h).
 */
#include "semver.h"

#include <string.h>

#include "sidekick.h"

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool is_identifier_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Reads a numeric identifier (0 or no leading zero) at s[*i]; returns its length or 0. */
static size_t read_number(const char *s, size_t n, size_t *i) {
  const size_t start = *i;
  while (*i < n && is_digit(s[*i])) {
    (*i)++;
  }
  const size_t len = *i - start;
  if (len == 0 || (len > 1 && s[start] == '0')) {
    return 0;
  }
  return len;
}

/* Checks dot-separated identifiers in s[start, end); pre-release numeric ones may not have
 * leading zeros (build metadata's may). */
static bool identifiers_valid(const char *s, size_t start, size_t end, bool pre_release) {
  if (start == end) {
    return false;
  }
  size_t id_start = start;
  for (size_t i = start; i <= end; i++) {
    if (i == end || s[i] == '.') {
      const size_t len = i - id_start;
      if (len == 0) {
        return false;
      }
      if (pre_release && len > 1 && s[id_start] == '0') {
        bool numeric = true;
        for (size_t k = id_start; k < i; k++) {
          numeric = numeric && is_digit(s[k]);
        }
        if (numeric) {
          return false;
        }
      }
      id_start = i + 1;
    } else if (!is_identifier_char(s[i])) {
      return false;
    }
  }
  return true;
}

bool sk_semver_parse(const char *text, size_t text_len, sk_semver *out) {
  if (text == NULL) {
    return false;
  }
  size_t i = 0;
  for (int k = 0; k < 3; k++) {
    const size_t start = i;
    const size_t len = read_number(text, text_len, &i);
    if (len == 0) {
      return false;
    }
    out->part[k] = text + start;
    out->part_len[k] = len;
    if (k < 2) {
      if (i >= text_len || text[i] != '.') {
        return false;
      }
      i++;
    }
  }
  out->pre = NULL;
  out->pre_len = 0;
  size_t build_start = text_len;
  for (size_t k = i; k < text_len; k++) {
    if (text[k] == '+') {
      build_start = k;
      break;
    }
  }
  if (i < text_len && text[i] == '-') {
    if (!identifiers_valid(text, i + 1, build_start, true)) {
      return false;
    }
    out->pre = text + i + 1;
    out->pre_len = build_start - (i + 1);
  } else if (i != build_start) {
    return false;
  }
  if (build_start < text_len && !identifiers_valid(text, build_start + 1, text_len, false)) {
    return false;
  }
  return true;
}

/* Orders digit strings without leading zeros as integers: the longer is larger. */
static int order_numbers(const char *a, size_t a_len, const char *b, size_t b_len) {
  if (a_len != b_len) {
    return a_len < b_len ? -1 : 1;
  }
  return memcmp(a, b, a_len);
}

static bool all_digits(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (!is_digit(s[i])) {
      return false;
    }
  }
  return true;
}

static int order_identifiers(const char *a, size_t a_len, const char *b, size_t b_len) {
  const bool a_numeric = all_digits(a, a_len);
  const bool b_numeric = all_digits(b, b_len);
  if (a_numeric && b_numeric) {
    return order_numbers(a, a_len, b, b_len);
  }
  if (a_numeric != b_numeric) {
    return a_numeric ? -1 : 1; /* numeric identifiers come before alphanumeric ones */
  }
  const size_t common = a_len < b_len ? a_len : b_len;
  const int order = memcmp(a, b, common);
  if (order != 0) {
    return order;
  }
  return a_len == b_len ? 0 : (a_len < b_len ? -1 : 1);
}

static size_t identifier_end(const char *s, size_t len, size_t start) {
  size_t i = start;
  while (i < len && s[i] != '.') {
    i++;
  }
  return i;
}

int sk_semver_order(const sk_semver *a, const sk_semver *b) {
  for (int k = 0; k < 3; k++) {
    const int order = order_numbers(a->part[k], a->part_len[k], b->part[k], b->part_len[k]);
    if (order != 0) {
      return order;
    }
  }
  if (a->pre == NULL || b->pre == NULL) {
    if (a->pre == b->pre) {
      return 0;
    }
    return a->pre == NULL ? 1 : -1; /* a release comes after its pre-releases */
  }
  size_t i = 0;
  size_t j = 0;
  for (;;) {
    if (i >= a->pre_len || j >= b->pre_len) {
      if (i >= a->pre_len && j >= b->pre_len) {
        return 0;
      }
      return i >= a->pre_len ? -1 : 1; /* fewer identifiers come first */
    }
    const size_t a_end = identifier_end(a->pre, a->pre_len, i);
    const size_t b_end = identifier_end(b->pre, b->pre_len, j);
    const int order = order_identifiers(a->pre + i, a_end - i, b->pre + j, b_end - j);
    if (order != 0) {
      return order;
    }
    i = a_end + 1;
    j = b_end + 1;
  }
}

int32_t sk_semver_compare(const char *a, size_t a_len, const char *b, size_t b_len,
                          int32_t *order) {
  if (order == NULL || (a == NULL && a_len != 0) || (b == NULL && b_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_semver x;
  sk_semver y;
  if (!sk_semver_parse(a, a_len, &x) || !sk_semver_parse(b, b_len, &y)) {
    return SK_ERR_BAD_VALUE;
  }
  const int result = sk_semver_order(&x, &y);
  *order = result < 0 ? -1 : (result > 0 ? 1 : 0);
  return SK_OK;
}
