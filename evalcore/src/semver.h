/*
 * semver.h — SemVer 2.0.0 versions for the SemVer operators: parsing into views of the text and
 * ordering by precedence (semver.org section 11), without allocating.
 *
 * Private to the core.
 */
#ifndef SK_SEMVER_H
#define SK_SEMVER_H

#include <stdbool.h>
#include <stddef.h>

/* A parsed version: views into the text it was parsed from (which must outlive it). */
typedef struct sk_semver {
  const char *part[3]; /* major, minor, patch: digits without leading zeros */
  size_t part_len[3];
  const char *pre; /* the pre-release identifiers after '-', dot-separated; NULL when none */
  size_t pre_len;
} sk_semver;

/* Parses text as a SemVer 2.0.0 version (build metadata checked, then ignored). Returns false
 * for anything else ("v1.2.3", "1.2", "01.2.3", "1.2.3-01"). */
bool sk_semver_parse(const char *text, size_t text_len, sk_semver *out);

/* Orders two parsed versions by precedence: negative, 0 or positive. */
int sk_semver_order(const sk_semver *a, const sk_semver *b);

#endif /* SK_SEMVER_H */
