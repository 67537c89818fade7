/*
 * flag.h — the in-memory form of a flag: built value by value, then finalised into an immutable
 * record that the store shares with readers.
 *
 * Private to the core.
 */
#ifndef SK_FLAG_H
#define SK_FLAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "murmur3.h"
#include "number.h"
#include "semver.h"
#include "sidekick.h"
#include "text_matcher.h"

/* A finalised condition's evaluate_as when its text matcher answers it (not an sk_operator). */
#define SK_RULE_BY_MATCHER 100

/* A borrowed view of bytes owned by the record that holds it. */
typedef struct sk_slice {
  const char *ptr;
  size_t len;
} sk_slice;

typedef struct sk_condition {
  char *attribute;
  size_t attribute_len;
  int32_t op;
  /* Set when finalising: what evaluation switches on, op itself or SK_RULE_BY_MATCHER. */
  int32_t evaluate_as;
  bool negate;
  /* While building: every value back to back in `bytes`, value i ending at ends[i]. */
  char *bytes;
  size_t bytes_len;
  size_t bytes_cap;
  size_t *ends;
  size_t value_count;
  size_t values_cap;
  /* After finalising: one slice per value (for Equals and NotEquals with more than a few values,
   * sorted by length, then bytes, so that a lookup is a binary search); `ends` is gone. */
  sk_slice *values;
  /* After finalising a Contains / StartsWith / EndsWith condition too large for a plain loop
   * over its values (see flag.c): the trie that answers it; NULL otherwise. */
  sk_text_matcher *matcher;
  /* After finalising a numeric condition: its values as doubles. */
  double *numbers;
} sk_condition;

/* What a rule, the fallthrough or the off state serves: one variant, or a weighted split. */
typedef struct sk_serve {
  int32_t variant;    /* when split_count is 0; -1 while unset */
  size_t split_count; /* entries of a split; 0 for a single variant */
  int32_t *split_variants;
  uint32_t *split_ends; /* running sums of the weights; the last is SK_SPLIT_TOTAL */
} sk_serve;

typedef struct sk_rule {
  sk_condition *conditions;
  size_t condition_count;
  size_t conditions_cap;
  sk_serve serve;
} sk_rule;

struct sk_flag {
  char *key;
  size_t key_len;
  bool enabled;
  bool tombstone; /* a remembered versioned delete: holds only key and version */
  bool finalised; /* handed to a store: read-only, evaluable */
  int32_t type;   /* an sk_flag_type */
  int32_t rollout;
  uint32_t variant_count; /* non-boolean flags; boolean flags have the implicit two */
  int32_t off_variant;
  uint64_t version;
  sk_rule *rules;
  size_t rule_count;
  size_t rules_cap;
  sk_serve fallthrough; /* non-boolean flags */
  char *bucket_by;      /* NULL when the user key is always hashed */
  size_t bucket_by_len;
  /* Set when finalised. */
  /* For a version 1 shaped flag (boolean; every rule one text condition without negate,
   * serving on; no bucket_by): each rule's condition by value, back to back, so that version 1
   * evaluation walks one array as it always did. Shares the conditions' buffers; NULL for other
   * flags and for flags without rules. */
  sk_condition *simple_rules;
  uint32_t key_hash;             /* the store's table hash of key */
  sk_murmur3_state rollout_seed; /* murmur3 state after hashing key ":" with seed 0 */
  sk_murmur3_state split_seed;   /* the same with the split seed */
};

/* The split hash's seed (Unleash's variant hash). */
#define SK_SPLIT_SEED 86028157u

/* Whether key_len bytes at key form a valid flag key. */
bool sk_key_is_valid(const char *key, size_t key_len);

/* The hash the store's table uses for a key (key may be NULL only when key_len is 0). It only
 * places keys in the in-memory table, so it need not be portable or stable across builds; it
 * reads 8 bytes at a time and mixes with multiplications, a few times cheaper than MurmurHash3
 * on short keys, and spreads sequential keys as evenly as MurmurHash3 does. The final fold feeds
 * the high bits into the low ones the table's power-of-two mask keeps. */
static inline uint32_t sk_key_hash(const char *key, size_t key_len) {
  uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)key_len;
  size_t i = 0;
  for (; i + 8 <= key_len; i += 8) {
    uint64_t word;
    memcpy(&word, key + i, 8);
    h = (h ^ word) * 0xbf58476d1ce4e5b9u;
    h ^= h >> 31;
  }
  const size_t rest = key_len - i;
  uint64_t tail = 0;
  if (rest >= 4) { /* two 4-byte reads that may overlap cover 4..7 bytes */
    uint32_t first;
    uint32_t last;
    memcpy(&first, key + i, 4);
    memcpy(&last, key + key_len - 4, 4);
    tail = ((uint64_t)first << 32) | last;
  } else if (rest > 0) { /* first, middle and last byte cover 1..3 bytes */
    tail = ((uint64_t)(unsigned char)key[i] << 16) |
           ((uint64_t)(unsigned char)key[i + rest / 2] << 8) | (unsigned char)key[key_len - 1];
  }
  h = (h ^ tail) * 0x94d049bb133111ebu;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93u;
  return (uint32_t)(h ^ (h >> 32));
}

/* Makes a tombstone record for key (already validated). Returns NULL when out of memory. */
sk_flag *sk_tombstone_new(const char *key, size_t key_len, uint64_t version);

/* Turns a built flag into its read-only evaluation form. Returns SK_OK or SK_ERR_NOMEM; on
 * failure the flag is still a valid built flag that sk_flag_free releases. */
int32_t sk_flag_finalise(sk_flag *flag);

/* Whether evaluation's arguments are usable: NULL only with length or count 0, attributes
 * included. Inline: it runs on every evaluation. */
static inline bool sk_evaluation_arguments_valid(const char *user_key, size_t user_key_len,
                                                 const sk_attribute *attributes,
                                                 size_t attribute_count) {
  if ((user_key == NULL && user_key_len != 0) || (attributes == NULL && attribute_count != 0)) {
    return false;
  }
  for (size_t i = 0; i < attribute_count; i++) {
    if ((attributes[i].name == NULL && attributes[i].name_len != 0) ||
        (attributes[i].value == NULL && attributes[i].value_len != 0)) {
      return false;
    }
  }
  return true;
}

/* The same for typed attributes. */
static inline bool sk_typed_arguments_valid(const char *user_key, size_t user_key_len,
                                            const sk_typed_attribute *attributes,
                                            size_t attribute_count) {
  if ((user_key == NULL && user_key_len != 0) || (attributes == NULL && attribute_count != 0)) {
    return false;
  }
  for (size_t i = 0; i < attribute_count; i++) {
    if ((attributes[i].name == NULL && attributes[i].name_len != 0) ||
        (attributes[i].text == NULL && attributes[i].text_len != 0)) {
      return false;
    }
  }
  return true;
}

/* Sets *out to the FLAG_NOT_FOUND answer. */
static inline void sk_evaluation_not_found(sk_typed_evaluation *out) {
  out->version = 0;
  out->reason = SK_REASON_FLAG_NOT_FOUND;
  out->rule_index = -1;
  out->bucket = -1;
  out->enabled = 0;
  out->variant = -1;
  out->type = -1;
}

/* Copies the version 1 fields of a typed evaluation. */
static inline void sk_evaluation_to_v1(const sk_typed_evaluation *in, sk_evaluation *out) {
  out->version = in->version;
  out->reason = in->reason;
  out->rule_index = in->rule_index;
  out->bucket = in->bucket;
  out->enabled = in->enabled;
}

/* Evaluates a finalised, live (not tombstone) flag for a user with version 1 text attributes
 * and fills every field of *out. Arguments are already validated. Allocates nothing. */
void sk_record_evaluate_text(const sk_flag *flag, const char *user_key, size_t user_key_len,
                             const sk_attribute *attributes, size_t attribute_count,
                             sk_typed_evaluation *out);

/* The enabled field alone of sk_record_evaluate_text. */
int32_t sk_record_is_enabled_text(const sk_flag *flag, const char *user_key, size_t user_key_len,
                                  const sk_attribute *attributes, size_t attribute_count);

/* The same with typed attributes. */
void sk_record_evaluate_typed(const sk_flag *flag, const char *user_key, size_t user_key_len,
                              const sk_typed_attribute *attributes, size_t attribute_count,
                              sk_typed_evaluation *out);

#endif /* SK_FLAG_H */
