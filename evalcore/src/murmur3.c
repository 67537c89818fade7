/*
 * murmur3.c — the public hashing functions and the resumable MurmurHash3 state.
 */
#include "murmur3.h"

#include "sidekick.h"

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
    h1 = sk_murmur3_mix(h1, state->pending);
    state->pending = 0;
    state->pending_len = 0;
  }

  for (; len >= 4; len -= 4, p += 4) {
    h1 = sk_murmur3_mix(h1, sk_murmur3_read_le32(p));
  }
  for (uint32_t i = 0; i < len; i++) {
    state->pending |= (uint32_t)p[i] << (8u * i);
  }
  state->pending_len = (uint32_t)len;
  state->h1 = h1;
}

uint32_t sk_murmur3_final(const sk_murmur3_state *state) {
  return sk_murmur3_finish(state, NULL, 0);
}

uint32_t sk_murmur3_32(const void *data, size_t len, uint32_t seed) {
  if (data == NULL) {
    len = 0; /* the header allows NULL only with length 0; never read through it */
  }
  return sk_murmur3_inline(data, len, seed);
}

uint32_t sk_bucket(const char *flag_key, size_t flag_key_len, const char *user_key,
                   size_t user_key_len) {
  if (flag_key == NULL) {
    flag_key_len = 0; /* NULL is only valid with length 0; never read through it */
  }
  if (user_key == NULL) {
    user_key_len = 0;
  }
  sk_murmur3_state state;
  sk_murmur3_init(&state, 0);
  sk_murmur3_update(&state, flag_key, flag_key_len);
  sk_murmur3_update(&state, ":", 1);
  return sk_murmur3_finish(&state, user_key, user_key_len) % 100u;
}
