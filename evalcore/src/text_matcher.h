/*
 * text_matcher.h — Contains / StartsWith / EndsWith over many values in time linear in the
 * attribute's length: a trie of the values, built once when a flag is finalised and only read
 * while evaluating, so evaluation allocates nothing and any number of readers may share it.
 *
 * StartsWith walks the trie from the attribute's first byte, EndsWith walks a trie of the
 * reversed values from its last byte; both stop at the first node where a value ends, or where
 * the attribute leaves the trie. Contains runs the trie as an Aho-Corasick automaton: failure
 * links send a state that cannot continue to the longest suffix of what was read that is still a
 * prefix of some value, and every state knows whether a value ends there or at one of its
 * failure-chain suffixes, so the first such state answers. The states nearest the root, where a
 * scan spends most of its time, get full transition rows over byte classes (the bytes no value
 * uses share one class), so a byte costs one table load there.
 *
 * Memory, n being the values' total bytes: at most n + 1 trie nodes of 10 bytes each (6 for
 * StartsWith and EndsWith), plus for Contains at most 16 KiB + 8n of full rows, plus a fixed
 * 300 bytes. Building needs for a moment about 28 bytes per value, 4 per node and, for
 * EndsWith, a reversed copy of the values.
 *
 * Private to the core.
 */
#ifndef SK_TEXT_MATCHER_H
#define SK_TEXT_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_text_matcher sk_text_matcher;

/* Builds a matcher for op (SK_OP_CONTAINS, SK_OP_STARTS_WITH or SK_OP_ENDS_WITH) over count
 * values stored back to back in bytes, value i ending at ends[i] (bytes may be NULL only when
 * every value is empty). Returns SK_OK and sets *out, or SK_ERR_NOMEM with *out NULL. */
int32_t sk_text_matcher_build(int32_t op, const char *bytes, const size_t *ends, size_t count,
                              sk_text_matcher **out);

/* Whether any value is a substring / prefix / suffix (by the matcher's op) of the text. Text may
 * be NULL only when text_len is 0. Allocates nothing; safe from any number of threads. */
bool sk_text_matcher_matches(const sk_text_matcher *matcher, const char *text, size_t text_len);

/* Releases a matcher (NULL is ignored). */
void sk_text_matcher_free(sk_text_matcher *matcher);

#endif /* SK_TEXT_MATCHER_H */
