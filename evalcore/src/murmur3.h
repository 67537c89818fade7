/*
 * murmur3.h — MurmurHash3 x86_32 (Austin Appleby's public-domain algorithm) as inline pieces,
 * plus a resumable state so a hash can be fed in segments.
 *
 * Private to the core. The rollout bucket hashes flag_key ":" user_key; feeding the segments one
 * after another avoids building the concatenation, and a flag keeps the state reached after its
 * own "key:" prefix so that evaluation only hashes the user key. Blocks are assembled byte by
 * byte in little-endian order (compilers turn that into one load where it is allowed), so the
 * result is the same on every host whatever its endianness or alignment rules.
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

static inline uint32_t sk_murmur3_rotl(uint32_t x, unsigned r) {
  return (x << r) | (x >> (32u - r));
}

static inline uint32_t sk_murmur3_read_le32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t sk_murmur3_scramble(uint32_t k1) {
  k1 *= 0xcc9e2d51u;
  k1 = sk_murmur3_rotl(k1, 15);
  return k1 * 0x1b873593u;
}

static inline uint32_t sk_murmur3_mix(uint32_t h1, uint32_t k1) {
  h1 ^= sk_murmur3_scramble(k1);
  h1 = sk_murmur3_rotl(h1, 13);
  return h1 * 5u + 0xe6546b64u;
}

static inline uint32_t sk_murmur3_fmix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* The whole hash of len bytes (p may be NULL only when len is 0). */
static inline uint32_t sk_murmur3_inline(const unsigned char *p, size_t len, uint32_t seed) {
  uint32_t h1 = seed;
  const size_t body = len & ~(size_t)3;
  for (size_t i = 0; i < body; i += 4) {
    h1 = sk_murmur3_mix(h1, sk_murmur3_read_le32(p + i));
  }
  /* Indexing (rather than forming p + body) keeps a NULL p with len 0 free of pointer arithmetic.
   */
  uint32_t k1 = 0;
  switch (len & 3u) {
  case 3:
    k1 ^= (uint32_t)p[body + 2] << 16;
    /* fall through */
  case 2:
    k1 ^= (uint32_t)p[body + 1] << 8;
    /* fall through */
  case 1:
    k1 ^= (uint32_t)p[body];
    h1 ^= sk_murmur3_scramble(k1);
    break;
  default:
    break;
  }
  return sk_murmur3_fmix(h1 ^ (uint32_t)len);
}

void sk_murmur3_init(sk_murmur3_state *state, uint32_t seed);
void sk_murmur3_update(sk_murmur3_state *state, const void *data, size_t len);
uint32_t sk_murmur3_final(const sk_murmur3_state *state);

/* The hash of everything fed into prefix followed by len bytes at data, leaving prefix as it
 * was: the evaluation hot path, kept in registers. data may be NULL only when len is 0. */
static inline uint32_t sk_murmur3_finish(const sk_murmur3_state *prefix, const char *data,
                                         size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  uint32_t h1 = prefix->h1;
  uint32_t carry = prefix->pending;
  uint32_t have = prefix->pending_len;
  const uint32_t total = prefix->total_len + (uint32_t)len;
  if (have != 0) {
    const uint32_t need = 4 - have; /* bytes that complete the prefix's last block */
    if (len >= need) {
      uint32_t top_up = 0;
      switch (need) {
      case 3:
        top_up |= (uint32_t)p[2] << 16;
        /* fall through */
      case 2:
        top_up |= (uint32_t)p[1] << 8;
        /* fall through */
      default:
        top_up |= (uint32_t)p[0];
        break;
      }
      h1 = sk_murmur3_mix(h1, carry | (top_up << (8u * have)));
      carry = 0;
      have = 0;
      p += need;
      len -= need;
    } else {
      for (size_t i = 0; i < len; i++) {
        carry |= (uint32_t)p[i] << (8u * (have + (uint32_t)i));
      }
      have += (uint32_t)len;
    }
  }
  if (have == 0) { /* otherwise the data ran out while topping up the pending block */
    for (; len >= 4; len -= 4, p += 4) {
      h1 = sk_murmur3_mix(h1, sk_murmur3_read_le32(p));
    }
    for (uint32_t i = 0; i < len; i++) {
      carry |= (uint32_t)p[i] << (8u * i);
    }
    have = (uint32_t)len;
  }
  if (have != 0) {
    h1 ^= sk_murmur3_scramble(carry);
  }
  return sk_murmur3_fmix(h1 ^ total);
}

#endif /* SK_MURMUR3_H */
