/*
 * sidekick.h — the Sidekick evaluation core: the one public header.
 *
 * Every SDK (CPython via Cython, Node-API, wasm32, React Native JSI, Flutter dart:ffi) compiles the
 * same C sources under evalcore/src and talks to them only through this header.
 *
 * Conventions
 * - Every string is a (pointer, byte length) pair of UTF-8 bytes; nothing relies on a NUL
 *   terminator. A NULL pointer is allowed only with length 0.
 * - Functions that can fail return an sk_status (SK_OK is 0, errors are negative, the one
 *   informational outcome SK_IGNORED_STALE is positive). Nothing aborts on bad input.
 * - Ownership is stated on each function. The core never keeps a pointer to caller memory: every
 *   string handed in is copied.
 * - No I/O, no JSON, no global mutable state; libc is the only dependency.
 * - Evaluation (sk_store_evaluate, sk_store_is_enabled, and by handle sk_flag_evaluate,
 *   sk_flag_is_enabled) allocates nothing.
 *
 * Thread safety
 * - An sk_store created with SK_STORE_CONCURRENT may be evaluated from any number of threads while
 *   ONE thread at a time writes to it (upsert, remove, clear). A reader never sees a torn flag: a
 *   write swaps whole, immutable flag records under a store-wide reader/writer spin lock that
 *   readers hold only for the duration of one evaluation.
 * - An sk_store created with SK_STORE_SINGLE_THREADED skips that lock; the host guarantees that no
 *   read overlaps a write (CPython's GIL, a JavaScript thread, a wasm instance).
 * - Writers must be serialized by the caller in both modes.
 * - An sk_flag under construction belongs to one thread until it is handed to a store.
 *
 * Evaluation semantics (the contract every binding shares):
 *   flag missing                -> false  (SK_REASON_FLAG_NOT_FOUND)
 *   flag disabled               -> false  (SK_REASON_OFF)
 *   first rule that matches     -> true   (SK_REASON_RULE_MATCH), even at 0% rollout
 *   rollout null (-1) or 100    -> true   (SK_REASON_ROLLOUT, no bucket)
 *   rollout 0                   -> false  (SK_REASON_ROLLOUT, no bucket)
 *   otherwise                   -> bucket < rollout, where
 *       bucket = murmur3_x86_32(flag_key ":" user_key, seed 0) % 100   (SK_REASON_ROLLOUT)
 *   A rule matches only when its attribute is present among the attributes passed in. Values are
 *   compared as exact bytes. Equals: equal to any value. NotEquals: equal to none of them.
 *   Contains / StartsWith / EndsWith: any value is a substring / prefix / suffix.
 *   Converting host values (booleans, integers) to strings is the binding's job; a value of any
 *   other type is simply not passed, so it never matches.
 */
#ifndef SIDEKICK_H
#define SIDEKICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported-symbol decoration: wasm needs an export name, shared libraries need visibility. */
#if defined(__wasm__)
#define SK_API(name) __attribute__((export_name(#name), visibility("default")))
#elif defined(_WIN32) && defined(SK_BUILD_SHARED)
#define SK_API(name) __declspec(dllexport)
#elif defined(__GNUC__)
#define SK_API(name) __attribute__((visibility("default")))
#else
#define SK_API(name)
#endif

/* Bumped on any change to a signature, struct layout or enum value in this header. */
#define SK_ABI_VERSION 1

/* Limits from the wire contract; the core rejects anything beyond them. */
#define SK_MAX_KEY_BYTES       100 /* flag keys are ASCII: A-Z a-z 0-9 _ - . */
#define SK_MAX_RULES           100
#define SK_MAX_VALUES_PER_RULE 10000

typedef enum sk_status {
  SK_OK = 0,
  SK_IGNORED_STALE = 1,         /* a write older than (or as old as) what the store holds */
  SK_ERR_NOMEM = -1,            /* allocation failed; nothing changed */
  SK_ERR_INVALID_ARGUMENT = -2, /* NULL handle, or NULL pointer with a non-zero length */
  SK_ERR_BAD_KEY = -3,          /* flag key empty, too long or outside the key charset */
  SK_ERR_BAD_ROLLOUT = -4,      /* rollout neither -1 (null) nor 0..100 */
  SK_ERR_BAD_OPERATOR = -5,     /* operator outside sk_operator */
  SK_ERR_BAD_ATTRIBUTE = -6,    /* rule attribute empty */
  SK_ERR_TOO_MANY_RULES = -7,   /* more than SK_MAX_RULES */
  SK_ERR_TOO_MANY_VALUES = -8,  /* more than SK_MAX_VALUES_PER_RULE in one rule */
  SK_ERR_NO_RULE = -9,          /* sk_flag_add_value before any sk_flag_add_rule */
  SK_ERR_NOT_FOUND = -10        /* no flag under that key */
} sk_status;

typedef enum sk_operator {
  SK_OP_EQUALS = 0,
  SK_OP_NOT_EQUALS = 1,
  SK_OP_CONTAINS = 2,
  SK_OP_STARTS_WITH = 3,
  SK_OP_ENDS_WITH = 4
} sk_operator;

typedef enum sk_reason {
  SK_REASON_FLAG_NOT_FOUND = 0,
  SK_REASON_OFF = 1,
  SK_REASON_RULE_MATCH = 2,
  SK_REASON_ROLLOUT = 3
} sk_reason;

typedef enum sk_store_mode { SK_STORE_SINGLE_THREADED = 0, SK_STORE_CONCURRENT = 1 } sk_store_mode;

/* An attribute handed to evaluation: name and value, both UTF-8 with explicit lengths. */
typedef struct sk_attribute {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} sk_attribute;

/* Why evaluation answered as it did. Filled by sk_store_evaluate. */
typedef struct sk_evaluation {
  uint64_t version;   /* the evaluated flag's version; 0 when not found */
  int32_t reason;     /* an sk_reason */
  int32_t rule_index; /* index of the matching rule for SK_REASON_RULE_MATCH, else -1 */
  int32_t bucket;     /* 0..99 when a percentage between 1 and 99 applied, else -1 */
  int32_t enabled;    /* 1 or 0 */
} sk_evaluation;

typedef struct sk_flag sk_flag;   /* a flag being built; immutable once handed to a store */
typedef struct sk_store sk_store; /* flags by key, with version-aware writes */

/* ---- versions and names ------------------------------------------------------------------ */

/* Returns SK_ABI_VERSION as compiled into the library; bindings compare it at load time. */
SK_API(sk_abi_version) uint32_t sk_abi_version(void);

/* Returns a static, NUL-terminated name for a status ("SK_OK", "SK_ERR_BAD_KEY", ...);
 * "SK_UNKNOWN" for a value outside sk_status. Never free it. */
SK_API(sk_status_name) const char *sk_status_name(int32_t status);

/* Returns a static, NUL-terminated reason name: "FLAG_NOT_FOUND", "OFF", "RULE_MATCH",
 * "ROLLOUT"; "UNKNOWN" outside sk_reason. Never free it. */
SK_API(sk_reason_name) const char *sk_reason_name(int32_t reason);

/* Parses an operator's wire name ("Equals", "NotEquals", "Contains", "StartsWith",
 * "EndsWith", exact case). Returns the sk_operator, or -1 for anything else. */
SK_API(sk_operator_parse) int32_t sk_operator_parse(const char *name, size_t name_len);

/* ---- hashing ------------------------------------------------------------------------------- */

/* MurmurHash3 x86_32 of len bytes at data with the given seed (unsigned). data may be NULL when
 * len is 0. */
SK_API(sk_murmur3_32) uint32_t sk_murmur3_32(const void *data, size_t len, uint32_t seed);

/* The rollout bucket 0..99 of a user for a flag: murmur3_32(flag_key ":" user_key, 0) % 100.
 * Allocates nothing. */
SK_API(sk_bucket)
uint32_t sk_bucket(const char *flag_key, size_t flag_key_len, const char *user_key,
                   size_t user_key_len);

/* ---- building a flag ----------------------------------------------------------------------- */

/* Starts a flag. rollout is 0..100, or -1 for null (= 100). version is the server's per-flag
 * version (1, 2, ...); 0 means "unversioned": such a write always applies.
 * On SK_OK, *out owns a new flag the caller must hand to sk_store_upsert or free with
 * sk_flag_free. On error *out is set to NULL. Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_BAD_KEY,
 * SK_ERR_BAD_ROLLOUT, SK_ERR_NOMEM. */
SK_API(sk_flag_new)
int32_t sk_flag_new(const char *key, size_t key_len, bool enabled, int32_t rollout,
                    uint64_t version, sk_flag **out);

/* Appends a rule (rules keep their order) with an operator from sk_operator; its values follow
 * with sk_flag_add_value. The attribute is copied. Errors: SK_ERR_INVALID_ARGUMENT,
 * SK_ERR_BAD_ATTRIBUTE (empty), SK_ERR_BAD_OPERATOR, SK_ERR_TOO_MANY_RULES, SK_ERR_NOMEM; the
 * flag is unchanged on error. */
SK_API(sk_flag_add_rule)
int32_t sk_flag_add_rule(sk_flag *flag, const char *attribute, size_t attribute_len, int32_t op);

/* Appends a value (any bytes, the empty string included) to the most recently added rule. The
 * value is copied. Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_NO_RULE, SK_ERR_TOO_MANY_VALUES,
 * SK_ERR_NOMEM; the flag is unchanged on error. */
SK_API(sk_flag_add_value)
int32_t sk_flag_add_value(sk_flag *flag, const char *value, size_t value_len);

/* Frees a flag that was never handed to a store. NULL is a no-op. */
SK_API(sk_flag_free) void sk_flag_free(sk_flag *flag);

/* ---- the store ------------------------------------------------------------------------------ */

/* Creates an empty store in the given sk_store_mode. Returns NULL when out of memory or when
 * mode is not an sk_store_mode. Free it with sk_store_free. */
SK_API(sk_store_new) sk_store *sk_store_new(int32_t mode);

/* Frees the store and every flag in it. NULL is a no-op. No reader may be evaluating. */
SK_API(sk_store_free) void sk_store_free(sk_store *store);

/* Inserts or replaces the flag under its key. ALWAYS takes ownership of flag, whatever it returns
 * (the caller must not touch it again). Version-aware: when both the incoming and the stored (or
 * deleted) version are non-zero and the incoming one is not newer, nothing changes and
 * SK_IGNORED_STALE is returned. Returns SK_OK when applied; SK_ERR_INVALID_ARGUMENT for a NULL
 * store or flag; SK_ERR_NOMEM (store unchanged).
 * This is where the flag is prepared for evaluation, outside the readers' lock: Equals/NotEquals
 * values are sorted, and Contains/StartsWith/EndsWith rules with many values get a trie, in time
 * and memory linear in the values' total length, so that evaluating a rule costs time linear in
 * the attribute's length however many values it has. */
SK_API(sk_store_upsert) int32_t sk_store_upsert(sk_store *store, sk_flag *flag);

/* Removes the flag under key. version is the DELETE event's version (0 = unconditional). A
 * versioned delete applies only when it is newer than the stored flag, and is remembered (a
 * tombstone) so that an older upsert arriving later is ignored. Returns SK_OK when a flag was
 * removed, SK_ERR_NOT_FOUND when none was stored (the tombstone is still recorded),
 * SK_IGNORED_STALE when the stored flag is as new or newer, SK_ERR_INVALID_ARGUMENT,
 * SK_ERR_NOMEM. */
SK_API(sk_store_remove)
int32_t sk_store_remove(sk_store *store, const char *key, size_t key_len, uint64_t version);

/* Removes every flag and every tombstone. */
SK_API(sk_store_clear) void sk_store_clear(sk_store *store);

/* Returns how many flags the store holds (tombstones not counted); 0 for NULL. */
SK_API(sk_store_count) size_t sk_store_count(const sk_store *store);

/* Returns the stored version of the flag under key: its version if present, 0 if absent (or
 * stored unversioned). */
SK_API(sk_store_version)
uint64_t sk_store_version(const sk_store *store, const char *key, size_t key_len);

/* ---- evaluation (allocates nothing) ---------------------------------------------------------- */

/* Evaluates flag_key for user_key with attribute_count attributes (attributes may be NULL when
 * the count is 0; a name that appears twice: the first one counts). Returns 1 or 0. A NULL
 * store, or a NULL pointer with a non-zero length, evaluates to 0. */
SK_API(sk_store_is_enabled)
int32_t sk_store_is_enabled(const sk_store *store, const char *flag_key, size_t flag_key_len,
                            const char *user_key, size_t user_key_len,
                            const sk_attribute *attributes, size_t attribute_count);

/* As sk_store_is_enabled, and fills *out with the reason, matching rule, bucket and version.
 * Returns SK_OK, or SK_ERR_INVALID_ARGUMENT (then *out, if not NULL, says FLAG_NOT_FOUND). */
SK_API(sk_store_evaluate)
int32_t sk_store_evaluate(const sk_store *store, const char *flag_key, size_t flag_key_len,
                          const char *user_key, size_t user_key_len, const sk_attribute *attributes,
                          size_t attribute_count, sk_evaluation *out);

/* ---- evaluation by handle (single-threaded stores; allocates nothing) ----------------------- */

/* Returns the flag stored under key so that a host can evaluate it repeatedly without the
 * per-call lookup, or NULL when no flag is stored under key (absent or deleted), for a NULL
 * store or a NULL key with a non-zero length, and ALWAYS for an SK_STORE_CONCURRENT store (a
 * writer could free the record under another thread). The store keeps ownership: never free the
 * handle. It stays valid until the next upsert or remove of that key, sk_store_clear or
 * sk_store_free, whatever they return. */
SK_API(sk_store_find)
const sk_flag *sk_store_find(const sk_store *store, const char *key, size_t key_len);

/* As sk_store_is_enabled, for a flag returned by sk_store_find. A NULL flag, a flag never handed
 * to a store, or a NULL pointer with a non-zero length evaluates to 0. */
SK_API(sk_flag_is_enabled)
int32_t sk_flag_is_enabled(const sk_flag *flag, const char *user_key, size_t user_key_len,
                           const sk_attribute *attributes, size_t attribute_count);

/* As sk_store_evaluate, for a flag returned by sk_store_find. A NULL flag is SK_OK with reason
 * FLAG_NOT_FOUND. Returns SK_ERR_INVALID_ARGUMENT for a NULL out, a NULL pointer with a non-zero
 * length, or a flag never handed to a store (then *out, if not NULL, says FLAG_NOT_FOUND). */
SK_API(sk_flag_evaluate)
int32_t sk_flag_evaluate(const sk_flag *flag, const char *user_key, size_t user_key_len,
                         const sk_attribute *attributes, size_t attribute_count,
                         sk_evaluation *out);

#ifdef __cplusplus
}
#endif

#endif /* SIDEKICK_H */
