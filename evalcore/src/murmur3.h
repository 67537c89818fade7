/*
 * murmur3.h — MurmurHash3 x86_32 as a resumable state, so a hash can be fed in pieces.
 *
 * Private to the core. The rollout bucket hashes flag_key ":" user_key; feeding the segments one
 * after another avoids building the concatenation, and a flag can keep the state reached after
 * its own "key:" prefix so that evaluation only hashes the user key.
 */
#ifndef SK_MURMUR3_H
#define SK_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_murmur3_state {
  uint32_t h1;          /* running hash over every complete 4-byte block so far */
  uint32_t pending;     /* 0..3 bytes not yet forming a block, little-endian in the low bits */
  uint32_t pending_len; /* how many bytes pending holds */
  uint32_t total_len;   /* bytes fed so far, modulo 2^32 as the reference algorithm uses */
} sk_murmur3_state;

void sk_murmur3_init(sk_murmur3_state *state, uint32_t seed);
void sk_murmur3_update(sk_murmur3_state *state, const void *data, size_t len);
uint32_t sk_murmur3_final(const sk_murmur3_state *state);

#endif /* SK_MURMUR3_H */
