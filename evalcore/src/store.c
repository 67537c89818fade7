/*
 * store.c — the flag store: an open-addressing table of immutable flag records, version-aware
 * writes with tombstones, and evaluation.
 *
 * Concurrency model (SK_STORE_CONCURRENT): there is one writer at a time (the caller's promise)
 * and any number of readers. Only the writer changes the table, so it may read the table without
 * the lock; it does everything that allocates or frees outside the lock and holds the write lock
 * only to store a pointer, move a few slots or swap a grown table in. Readers hold the read lock
 * for one whole evaluation, so a record they are reading is never freed under them.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* for sched_yield in rwlock.h; strict C11 hides it */
#endif

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "flag.h"
#include "rwlock.h"
#include "sidekick.h"

#define INITIAL_CAPACITY 16u

/* A slot is empty when record is NULL; hash caches record->key_hash to skip most key compares. */
typedef struct sk_slot {
  sk_flag *record;
  uint32_t hash;
} sk_slot;

struct sk_store {
  sk_rwlock lock;
  int32_t mode;
  sk_slot *slots; /* NULL until the first write, and again after a clear */
  size_t mask;    /* capacity - 1; capacity is a power of two */
  size_t used;    /* slots holding a record: flags and tombstones */
  size_t flag_count;
};

/* ---- locking ------------------------------------------------------------------------------- */

/* Const readers still change the lock word: the lock is the one part of a store that is not its
 * logical state, and the store itself is never a const object (sk_store_new allocates it). */
static inline void read_lock(const sk_store *store) {
  if (store->mode == SK_STORE_CONCURRENT) {
    sk_rwlock_read_lock((sk_rwlock *)&store->lock);
  }
}

static inline void read_unlock(const sk_store *store) {
  if (store->mode == SK_STORE_CONCURRENT) {
    sk_rwlock_read_unlock((sk_rwlock *)&store->lock);
  }
}

static inline void write_lock(sk_store *store) {
  if (store->mode == SK_STORE_CONCURRENT) {
    sk_rwlock_write_lock(&store->lock);
  }
}

static inline void write_unlock(sk_store *store) {
  if (store->mode == SK_STORE_CONCURRENT) {
    sk_rwlock_write_unlock(&store->lock);
  }
}

/* ---- the table ----------------------------------------------------------------------------- */

/* Returns the slot holding key, or the empty slot where it would go (the table is never full). */
static inline size_t probe(const sk_slot *slots, size_t mask, uint32_t hash, const char *key,
                           size_t key_len) {
  size_t i = hash & mask;
  for (;;) {
    const sk_flag *record = slots[i].record;
    if (record == NULL || (slots[i].hash == hash && record->key_len == key_len &&
                           sk_bytes_equal(record->key, key, key_len))) {
      return i;
    }
    i = (i + 1) & mask;
  }
}

static inline const sk_flag *find(const sk_store *store, const char *key, size_t key_len) {
  if (store->slots == NULL) {
    return NULL;
  }
  const uint32_t hash = sk_key_hash(key, key_len);
  return store->slots[probe(store->slots, store->mask, hash, key, key_len)].record;
}

/* Whether one more record would push the load factor past 70%. */
static bool needs_growth(const sk_store *store) {
  if (store->slots == NULL) {
    return true;
  }
  const size_t capacity = store->mask + 1;
  return (store->used + 1) * 10 > capacity * 7;
}

/* Builds a copy of the table with room to spare, without touching the live one. */
static sk_slot *grown_table(const sk_store *store, size_t *mask_out) {
  size_t capacity = store->slots == NULL ? INITIAL_CAPACITY : (store->mask + 1) * 2;
  if (capacity > SIZE_MAX / sizeof(sk_slot)) {
    return NULL;
  }
  sk_slot *slots = calloc(capacity, sizeof *slots);
  if (slots == NULL) {
    return NULL;
  }
  const size_t mask = capacity - 1;
  if (store->slots != NULL) {
    for (size_t i = 0; i <= store->mask; i++) {
      if (store->slots[i].record != NULL) {
        size_t j = store->slots[i].hash & mask;
        while (slots[j].record != NULL) {
          j = (j + 1) & mask;
        }
        slots[j] = store->slots[i];
      }
    }
  }
  *mask_out = mask;
  return slots;
}

/* Inserts a record whose key is absent. Takes ownership of record only on SK_OK. */
static int32_t insert_new(sk_store *store, sk_flag *record) {
  sk_slot *old_slots = NULL;
  sk_slot *slots = store->slots;
  size_t mask = store->mask;
  if (needs_growth(store)) {
    slots = grown_table(store, &mask);
    if (slots == NULL) {
      return SK_ERR_NOMEM;
    }
    old_slots = store->slots;
  }
  const size_t i = probe(slots, mask, record->key_hash, record->key, record->key_len);

  write_lock(store);
  slots[i].record = record;
  slots[i].hash = record->key_hash;
  store->slots = slots;
  store->mask = mask;
  store->used++;
  if (!record->tombstone) {
    store->flag_count++;
  }
  write_unlock(store);

  free(old_slots);
  return SK_OK;
}

/* Swaps the record in slot i for a new one of the same key; returns the old one to free. */
static sk_flag *replace_at(sk_store *store, size_t i, sk_flag *record) {
  sk_flag *old = store->slots[i].record;
  write_lock(store);
  store->slots[i].record = record;
  store->flag_count += (size_t)!record->tombstone;
  store->flag_count -= (size_t)!old->tombstone;
  write_unlock(store);
  return old;
}

/* Empties slot i, shifting later members of its probe run back so no lookup ever stops early. */
static sk_flag *erase_at(sk_store *store, size_t i) {
  sk_slot *slots = store->slots;
  const size_t mask = store->mask;
  sk_flag *old = slots[i].record;
  write_lock(store);
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (slots[j].record == NULL) {
      break;
    }
    /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
    const size_t home = slots[j].hash & mask;
    const size_t distance_home = (j - home) & mask;
    const size_t distance_hole = (j - hole) & mask;
    if (distance_home >= distance_hole) {
      slots[hole] = slots[j];
      hole = j;
    }
  }
  slots[hole].record = NULL;
  slots[hole].hash = 0;
  store->used--;
  if (!old->tombstone) {
    store->flag_count--;
  }
  write_unlock(store);
  return old;
}

static void free_records(sk_slot *slots, size_t mask) {
  if (slots == NULL) {
    return;
  }
  for (size_t i = 0; i <= mask; i++) {
    sk_flag_free(slots[i].record);
  }
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

sk_store *sk_store_new(int32_t mode) {
  if (mode != SK_STORE_SINGLE_THREADED && mode != SK_STORE_CONCURRENT) {
    return NULL;
  }
  sk_store *store = calloc(1, sizeof *store);
  if (store == NULL) {
    return NULL;
  }
  sk_rwlock_init(&store->lock);
  store->mode = mode;
  return store;
}

void sk_store_free(sk_store *store) {
  if (store == NULL) {
    return;
  }
  free_records(store->slots, store->mask);
  free(store->slots);
  free(store);
}

void sk_store_clear(sk_store *store) {
  if (store == NULL) {
    return;
  }
  sk_slot *slots = store->slots;
  const size_t mask = store->mask;
  write_lock(store);
  store->slots = NULL;
  store->mask = 0;
  store->used = 0;
  store->flag_count = 0;
  write_unlock(store);
  free_records(slots, mask);
  free(slots);
}

/* ---- writes -------------------------------------------------------------------------------- */

/* A write is stale when both sides are versioned and the incoming one is not newer. */
static bool is_stale(uint64_t incoming, uint64_t stored) {
  return incoming != 0 && stored != 0 && incoming <= stored;
}

int32_t sk_store_upsert(sk_store *store, sk_flag *flag) {
  if (store == NULL || flag == NULL) {
    sk_flag_free(flag);
    return SK_ERR_INVALID_ARGUMENT;
  }
  const int32_t finalised = sk_flag_finalise(flag);
  if (finalised != SK_OK) {
    sk_flag_free(flag);
    return finalised;
  }
  if (store->slots != NULL) {
    const size_t i = probe(store->slots, store->mask, flag->key_hash, flag->key, flag->key_len);
    sk_flag *stored = store->slots[i].record;
    if (stored != NULL) {
      if (is_stale(flag->version, stored->version)) {
        sk_flag_free(flag);
        return SK_IGNORED_STALE;
      }
      sk_flag_free(replace_at(store, i, flag));
      return SK_OK;
    }
  }
  const int32_t status = insert_new(store, flag);
  if (status != SK_OK) {
    sk_flag_free(flag);
  }
  return status;
}

int32_t sk_store_remove(sk_store *store, const char *key, size_t key_len, uint64_t version) {
  if (store == NULL || (key == NULL && key_len != 0)) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (!sk_key_is_valid(key, key_len)) {
    return SK_ERR_NOT_FOUND; /* no flag can live under it, so there is nothing to remember */
  }
  sk_flag *stored = NULL;
  size_t i = 0;
  if (store->slots != NULL) {
    i = probe(store->slots, store->mask, sk_key_hash(key, key_len), key, key_len);
    stored = store->slots[i].record;
  }

  if (stored != NULL && stored->tombstone) {
    if (version > stored->version) {
      /* Only sk_store_version reads a tombstone's version, and only under the lock. */
      write_lock(store);
      stored->version = version;
      write_unlock(store);
    }
    return SK_ERR_NOT_FOUND;
  }
  if (stored != NULL) {
    if (is_stale(version, stored->version)) {
      return SK_IGNORED_STALE;
    }
    if (version == 0) {
      sk_flag_free(erase_at(store, i));
      return SK_OK;
    }
    sk_flag *tombstone = sk_tombstone_new(key, key_len, version);
    if (tombstone == NULL) {
      return SK_ERR_NOMEM;
    }
    sk_flag_free(replace_at(store, i, tombstone));
    return SK_OK;
  }
  if (version == 0) {
    return SK_ERR_NOT_FOUND;
  }
  sk_flag *tombstone = sk_tombstone_new(key, key_len, version);
  if (tombstone == NULL) {
    return SK_ERR_NOMEM;
  }
  const int32_t status = insert_new(store, tombstone);
  if (status != SK_OK) {
    sk_flag_free(tombstone);
    return status;
  }
  return SK_ERR_NOT_FOUND;
}

/* ---- reads --------------------------------------------------------------------------------- */

size_t sk_store_count(const sk_store *store) {
  if (store == NULL) {
    return 0;
  }
  read_lock(store);
  const size_t count = store->flag_count;
  read_unlock(store);
  return count;
}

uint64_t sk_store_version(const sk_store *store, const char *key, size_t key_len) {
  if (store == NULL || (key == NULL && key_len != 0)) {
    return 0;
  }
  read_lock(store);
  const sk_flag *record = find(store, key, key_len);
  const uint64_t version = record != NULL && !record->tombstone ? record->version : 0;
  read_unlock(store);
  return version;
}

static bool arguments_are_valid(const sk_store *store, const char *flag_key, size_t flag_key_len,
                                const char *user_key, size_t user_key_len,
                                const sk_attribute *attributes, size_t attribute_count) {
  return store != NULL && (flag_key != NULL || flag_key_len == 0) &&
         sk_evaluation_arguments_valid(user_key, user_key_len, attributes, attribute_count);
}

/* The stored live record under key, or NULL; the caller holds the read lock. */
static inline const sk_flag *find_live(const sk_store *store, const char *key, size_t key_len) {
  const sk_flag *flag = find(store, key, key_len);
  return flag != NULL && !flag->tombstone ? flag : NULL;
}

/* Version 1 evaluation; the caller holds the read lock and has validated the arguments. */
static inline void evaluate_locked(const sk_store *store, const char *flag_key, size_t flag_key_len,
                                   const char *user_key, size_t user_key_len,
                                   const sk_attribute *attributes, size_t attribute_count,
                                   sk_typed_evaluation *out) {
  const sk_flag *flag = find_live(store, flag_key, flag_key_len);
  if (flag == NULL) {
    sk_evaluation_not_found(out);
    return;
  }
  sk_record_evaluate_text(flag, user_key, user_key_len, attributes, attribute_count, out);
}

int32_t sk_store_evaluate(const sk_store *store, const char *flag_key, size_t flag_key_len,
                          const char *user_key, size_t user_key_len, const sk_attribute *attributes,
                          size_t attribute_count, sk_evaluation *out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  sk_typed_evaluation result;
  if (!arguments_are_valid(store, flag_key, flag_key_len, user_key, user_key_len, attributes,
                           attribute_count)) {
    sk_evaluation_not_found(&result);
    sk_evaluation_to_v1(&result, out);
    return SK_ERR_INVALID_ARGUMENT;
  }
  read_lock(store);
  evaluate_locked(store, flag_key, flag_key_len, user_key, user_key_len, attributes,
                  attribute_count, &result);
  read_unlock(store);
  sk_evaluation_to_v1(&result, out);
  return SK_OK;
}

int32_t sk_store_evaluate_typed(const sk_store *store, const char *flag_key, size_t flag_key_len,
                                const char *user_key, size_t user_key_len,
                                const sk_typed_attribute *attributes, size_t attribute_count,
                                sk_typed_evaluation *out) {
  if (out == NULL) {
    return SK_ERR_INVALID_ARGUMENT;
  }
  if (store == NULL || (flag_key == NULL && flag_key_len != 0) ||
      !sk_typed_arguments_valid(user_key, user_key_len, attributes, attribute_count)) {
    sk_evaluation_not_found(out);
    return SK_ERR_INVALID_ARGUMENT;
  }
  read_lock(store);
  const sk_flag *flag = find_live(store, flag_key, flag_key_len);
  if (flag == NULL) {
    sk_evaluation_not_found(out);
  } else {
    sk_record_evaluate_typed(flag, user_key, user_key_len, attributes, attribute_count, out);
  }
  read_unlock(store);
  return SK_OK;
}

int32_t sk_store_is_enabled(const sk_store *store, const char *flag_key, size_t flag_key_len,
                            const char *user_key, size_t user_key_len,
                            const sk_attribute *attributes, size_t attribute_count) {
  if (!arguments_are_valid(store, flag_key, flag_key_len, user_key, user_key_len, attributes,
                           attribute_count)) {
    return 0;
  }
  read_lock(store);
  const sk_flag *flag = find_live(store, flag_key, flag_key_len);
  const int32_t enabled = flag != NULL ? sk_record_is_enabled_text(flag, user_key, user_key_len,
                                                                   attributes, attribute_count)
                                       : 0;
  read_unlock(store);
  return enabled;
}

const sk_flag *sk_store_find(const sk_store *store, const char *key, size_t key_len) {
  if (store == NULL || store->mode != SK_STORE_SINGLE_THREADED || (key == NULL && key_len != 0)) {
    return NULL;
  }
  const sk_flag *record = find(store, key, key_len);
  return record != NULL && !record->tombstone ? record : NULL;
}
