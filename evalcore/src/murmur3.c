/*
 * murmur3.c — MurmurHash3 x86_32 (Austin Appleby's public-domain algorithm), one-shot and
 * resumable.
 *
 * Blocks are assembled byte by byte in little-endian order, so the result is the same on every
 * host whatever its endianness or alignment rules.
 */
#include "murmur3.h"

#include "sidekick.h"

#define C1 0xcc9e2d51u
#define C2 0x1b873593u

static inline uint32_t rotl32(uint32_t x, unsigned r) {
  return (x << r) | (x >> (32u - r));
}

static inline uint32_t read_le32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t scramble(uint32_t k1) {
  k1 *= C1;
  k1 = rotl32(k1, 15);
  return k1 * C2;
}

static inline uint32_t mix_block(uint32_t h1, uint32_t k1) {
  h1 ^= scramble(k1);
  h1 = rotl32(h1, 13);
  return h1 * 5u + 0xe6546b64u;
}

static inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

void sk_murmur3_init(sk_murmur3_state *state, uint32_t seed) {
  state->h1 = seed;
  state->pending = 0;
  state->pending_len = 0;
  state->total_len = 0;
}

void sk_murmur3_update(sk_murmur3_state *state, const void *data, size_t len) {
  const unsigned char *p = data;
  if (len == 0) {
    return; /* also keeps a NULL data pointer untouched */
  }
  uint32_t h1 = state->h1;
  state->total_len += (uint32_t)len;

  /* Complete a block left over from the previous segment first. */
  if (state->pending_len > 0) {
    while (len > 0 && state->pending_len < 4) {
      state->pending |= (uint32_t)*p++ << (8u * state->pending_len);
      state->pending_len++;
      len--;
    }
    if (state->pending_len < 4) {
      return;
    }
    h1 = mix_block(h1, state->pending);
    state->pending = 0;
    state->pending_len = 0;
  }

  for (; len >= 4; len -= 4, p += 4) {
    h1 = mix_block(h1, read_le32(p));
  }
  for (uint32_t i = 0; i < len; i++) {
    state->pending |= (uint32_t)p[i] << (8u * i);
  }
  state->pending_len = (uint32_t)len;
  state->h1 = h1;
}

uint32_t sk_murmur3_final(const sk_murmur3_state *state) {
  uint32_t h1 = state->h1;
  if (state->pending_len > 0) {
    h1 ^= scramble(state->pending);
  }
  h1 ^= state->total_len;
  return fmix32(h1);
}

uint32_t sk_murmur3_32(const void *data, size_t len, uint32_t seed) {
  const unsigned char *p = data;
  if (p == NULL) {
    len = 0; /* the header allows NULL only with length 0; never read through it */
  }
  uint32_t h1 = seed;
  const size_t body = len & ~(size_t)3;
  for (size_t i = 0; i < body; i += 4) {
    h1 = mix_block(h1, read_le32(p + i));
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
    h1 ^= scramble(k1);
    break;
  default:
    break;
  }
  h1 ^= (uint32_t)len;
  return fmix32(h1);
}

uint32_t sk_bucket(const char *flag_key, size_t flag_key_len, const char *user_key,
                   size_t user_key_len) {
  sk_murmur3_state state;
  if (flag_key == NULL) {
    flag_key_len = 0; /* NULL is only valid with length 0; never read through it */
  }
  if (user_key == NULL) {
    user_key_len = 0;
  }
  sk_murmur3_init(&state, 0);
  sk_murmur3_update(&state, flag_key, flag_key_len);
  sk_murmur3_update(&state, ":", 1);
  sk_murmur3_update(&state, user_key, user_key_len);
  return sk_murmur3_final(&state) % 100u;
}
