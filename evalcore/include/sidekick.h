/*
 * sidekick.h — the Sidekick evaluation core: the one public header.
 *
 * Every SDK (CPython via Cython, Node-API, wasm32, React Native JSI, Flutter dart:ffi) compiles the
 * same C sources under evalcore/src and talks to them only through this header.
 *
 * Conventions
 * - Every string is a (pointer, byte length) pair of UTF-8 bytes; nothing relies on a NUL
 *   terminator. A NULL pointer is allowed only with length 0.
 * - Functions that can fail return an sk_status as an int32_t (SK_OK is 0, errors are negative,
 *   the one informational outcome SK_IGNORED_STALE is positive). Nothing aborts on bad input.
 * - Ownership is stated on each function. The core never keeps a pointer to caller memory: every
 *   string handed in is copied.
 * - No I/O, no JSON, no global mutable state; libc is the only dependency.
 * - Evaluation (sk_store_evaluate, sk_store_evaluate_typed, sk_store_is_enabled, and by handle
 *   sk_flag_evaluate, sk_flag_evaluate_typed, sk_flag_is_enabled) allocates nothing.
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
 * Why statuses, reasons and operators cross the ABI as int32_t rather than as their enum types:
 * the size and signedness of a C enum are the compiler's choice (anything from char to int), so a
 * Dart, JavaScript or wasm declaration could not name the type exactly. Every function therefore
 * takes and returns a fixed-width int32_t, and the enums below only name its values.
 *
 * ABI versions
 * - Version 1: boolean flags, one condition per rule, text operators, text attributes.
 * - Version 2 (this header) adds typed flags: variants by index (the core never sees their
 *   values; each binding keeps them in its own language), rules of 1..SK_MAX_CONDITIONS AND-ed
 *   conditions with `negate`, a serve per rule (a variant or a weighted split), the fallthrough
 *   and off variants, bucket_by, the numeric and SemVer operators, and typed attributes
 *   (sk_typed_attribute) so that numbers compare by value. Every version 1 function is kept with
 *   its version 1 meaning; sk_store_evaluate_typed answers a version 2 evaluation.
 *
 * Evaluation semantics (the contract every binding shares; sk_store_evaluate_typed):
 *   flag missing                -> SK_REASON_FLAG_NOT_FOUND, variant -1
 *   flag disabled               -> SK_REASON_OFF, the off variant (boolean flags: SK_VARIANT_OFF)
 *   first rule whose conditions all hold
 *                               -> SK_REASON_RULE_MATCH, serve(rule), rule_index
 *   boolean flag, no rule held  -> SK_REASON_ROLLOUT: rollout null (-1) or 100: on; 0: off;
 *       otherwise on when murmur3_x86_32(flag_key ":" b, seed 0) % 100 < rollout (bucket 0..99)
 *   other types, no rule held   -> SK_REASON_ROLLOUT, serve(fallthrough)
 *   serve(variant K) = K
 *   serve(split)     = bucket = murmur3_x86_32(flag_key ":" b, seed 86028157) % 1000 (0..999);
 *                      the first entry whose running sum of weights exceeds the bucket
 *   b = the bucket_by attribute's text when it has one (see below), else user_key
 *   enabled = 1 exactly when a boolean flag serves SK_VARIANT_ON; 0 for every other type.
 *
 * Conditions
 * - A condition on an attribute that is not passed is false, negated or not. `negate` inverts
 *   the operator's result whenever the attribute is present, including a value that cannot be
 *   compared (false, inverted to true). With several values, the operator holds when ANY value
 *   matches; NotEquals is the negation of Equals over the whole list.
 * - Text operators (Equals, NotEquals, Contains, StartsWith, EndsWith) compare exact UTF-8 bytes
 *   of the attribute's text: a text value as it is; a boolean as "true" / "false"; a number with
 *   the text its binding gave it, or, given none, an integral number of magnitude below 2^53 in
 *   decimal ("-0" is "0"). Other values have no text: the operator is false.
 * - Numeric operators (Gt, Gte, Lt, Lte) compare IEEE doubles: a number by value; a text value
 *   read with JSON's number grammar exactly (no whitespace, no '+', no leading zeros, no ".5" or
 *   "1.", no NaN/Infinity), correctly rounded without the C library (so no locale can change
 *   it): "1e400" is +infinity and "1e-400" is 0. Anything else, or a NaN number, is false.
 * - SemVer operators (SemverEq, SemverGt, SemverLt) read a text value as a SemVer 2.0.0 version
 *   and order by semver.org section 11: numeric parts as integers of any length, pre-releases
 *   before releases, build metadata ignored. "v1.2.3" does not parse; unparseable is false.
 * - bucket_by: a value with text by the text-operator rule (strings, booleans, integral numbers,
 *   "" included) replaces the user key in every hash of the flag; any other value, or none,
 *   falls back to the user key.
 *
 * Version 1 functions on these rules: sk_store_evaluate / sk_store_is_enabled pass text
 * attributes (sk_attribute), which behave as typed text values. Converting host values
 * (booleans, integers) to text is the binding's job there; a value of any other type is not
 * passed, so it counts as missing.
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
#define SK_ABI_VERSION 2

/* Limits from the wire contract; the core rejects anything beyond them. */
#define SK_MAX_KEY_BYTES       100 /* flag keys are ASCII: A-Z a-z 0-9 _ - . */
#define SK_MAX_RULES           100
#define SK_MAX_VALUES_PER_RULE 10000 /* per condition */
#define SK_MAX_CONDITIONS      20    /* per rule */
#define SK_MAX_VARIANTS        100   /* per non-boolean flag */
#define SK_SPLIT_TOTAL         1000  /* a split's weights add up to exactly this */

/* A boolean flag's two implicit variants, as evaluation reports them. */
#define SK_VARIANT_OFF 0
#define SK_VARIANT_ON  1

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
  SK_ERR_NOT_FOUND = -10,       /* no flag under that key */
  /* Version 2 */
  SK_ERR_BAD_TYPE = -11,            /* flag type outside sk_flag_type */
  SK_ERR_BAD_VARIANT = -12,         /* variant count or index out of range, or not for this type */
  SK_ERR_BAD_SPLIT = -13,           /* split empty, over SK_MAX_VARIANTS entries, or weights
                                       outside 0..1000 or not adding up to SK_SPLIT_TOTAL */
  SK_ERR_BAD_VALUE = -14,           /* a numeric / SemVer operator's value that does not parse */
  SK_ERR_TOO_MANY_CONDITIONS = -15, /* more than SK_MAX_CONDITIONS in one rule */
  SK_ERR_INCOMPLETE = -16           /* upsert of a flag missing a part its type requires: a rule
                                       without conditions, or (non-boolean) the off variant, the
                                       fallthrough or a rule's serve */
} sk_status;

typedef enum sk_operator {
  SK_OP_EQUALS = 0,
  SK_OP_NOT_EQUALS = 1,
  SK_OP_CONTAINS = 2,
  SK_OP_STARTS_WITH = 3,
  SK_OP_ENDS_WITH = 4,
  /* Version 2 */
  SK_OP_GT = 5,
  SK_OP_GTE = 6,
  SK_OP_LT = 7,
  SK_OP_LTE = 8,
  SK_OP_SEMVER_EQ = 9,
  SK_OP_SEMVER_GT = 10,
  SK_OP_SEMVER_LT = 11
} sk_operator;

/* A flag's type (version 2). Only boolean flags have a rollout and implicit on/off variants. */
typedef enum sk_flag_type {
  SK_TYPE_BOOLEAN = 0,
  SK_TYPE_STRING = 1,
  SK_TYPE_NUMBER = 2,
  SK_TYPE_JSON = 3
} sk_flag_type;

/* Which serve sk_flag_serve_variant / sk_flag_serve_split set (version 2). */
typedef enum sk_serve_target {
  SK_SERVE_RULE = 0,       /* the most recently added rule */
  SK_SERVE_FALLTHROUGH = 1 /* the serve when no rule holds (non-boolean flags) */
} sk_serve_target;

/* The kind of a typed attribute's value (version 2). */
typedef enum sk_value_kind {
  SK_VALUE_TEXT = 0,   /* text, text_len: a string */
  SK_VALUE_NUMBER = 1, /* number; text, text_len: its text for text operators, or NULL */
  SK_VALUE_BOOL = 2,   /* number: 0 for false, anything else for true */
  SK_VALUE_OTHER = 3   /* present without a comparable value (null, a list, an object) */
} sk_value_kind;

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

/* A typed attribute (version 2): its name, and a value of kind sk_value_kind. Only the fields
 * its kind names are read. A number's text, when a binding gives one, is what text operators
 * and bucket_by see (Python passes an int's exact decimal digits that way); with text NULL the
 * core writes an integral number of magnitude below 2^53 in decimal itself, and any other
 * number has no text. */
typedef struct sk_typed_attribute {
  const char *name;
  size_t name_len;
  const char *text;
  size_t text_len;
  double number;
  int32_t kind;     /* an sk_value_kind; any other value counts as SK_VALUE_OTHER */
  int32_t reserved; /* set to 0 */
} sk_typed_attribute;

/* Why evaluation answered as it did. Filled by sk_store_evaluate (version 1 layout, kept). */
typedef struct sk_evaluation {
  uint64_t version;   /* the evaluated flag's version; 0 when not found */
  int32_t reason;     /* an sk_reason */
  int32_t rule_index; /* index of the matching rule for SK_REASON_RULE_MATCH, else -1 */
  int32_t bucket;     /* 0..99 when a percentage between 1 and 99 applied, 0..999 when a split
                         did (version 2 flags), else -1 */
  int32_t enabled;    /* 1 or 0 */
} sk_evaluation;

/* A version 2 evaluation, filled by sk_store_evaluate_typed / sk_flag_evaluate_typed. */
typedef struct sk_typed_evaluation {
  uint64_t version;   /* the evaluated flag's version; 0 when not found */
  int32_t reason;     /* an sk_reason */
  int32_t rule_index; /* index of the matching rule for SK_REASON_RULE_MATCH, else -1 */
  int32_t bucket;     /* 0..99 when a rollout percentage applied, 0..999 when a split did,
                         else -1 */
  int32_t enabled;    /* 1 when a boolean flag serves SK_VARIANT_ON, else 0 */
  int32_t variant;    /* the served variant's index (boolean: SK_VARIANT_OFF / SK_VARIANT_ON);
                         -1 when not found */
  int32_t type;       /* the flag's sk_flag_type; -1 when not found */
} sk_typed_evaluation;

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

/* Parses an operator's wire name ("Equals", "NotEquals", "Contains", "StartsWith", "EndsWith";
 * version 2: "Gt", "Gte", "Lt", "Lte", "SemverEq", "SemverGt", "SemverLt"; exact case). Returns
 * the sk_operator, or -1 for anything else. */
SK_API(sk_operator_parse) int32_t sk_operator_parse(const char *name, size_t name_len);

/* Parses text_len bytes as a number in JSON's grammar, correctly rounded to a double without
 * the C library's locale-dependent strtod ("1e400" gives +infinity, "1e-400" 0, "-0" -0.0).
 * Returns SK_OK and sets *out, or SK_ERR_BAD_VALUE (anything outside the grammar, *out
 * unchanged), SK_ERR_INVALID_ARGUMENT (NULL out, or NULL text with a non-zero length).
 * Allocates nothing; a number beyond the exact fast path (over 15 significant digits, or a
 * power of ten beyond 1e22) uses about 3 KB of stack. (Version 2.) */
SK_API(sk_number_parse) int32_t sk_number_parse(const char *text, size_t text_len, double *out);

/* Compares two SemVer 2.0.0 versions by precedence (build metadata ignored). Returns SK_OK and
 * sets *order to -1, 0 or 1, or SK_ERR_BAD_VALUE when either does not parse,
 * SK_ERR_INVALID_ARGUMENT for a NULL order or a NULL text with a non-zero length. Allocates
 * nothing. (Version 2.) */
SK_API(sk_semver_compare)
int32_t sk_semver_compare(const char *a, size_t a_len, const char *b, size_t b_len, int32_t *order);

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

/* Appends a rule of one condition (rules keep their order) with an operator from sk_operator;
 * its values follow with sk_flag_add_value. The attribute is copied. The rule serves on (a
 * boolean flag's SK_VARIANT_ON) until sk_flag_serve_* says otherwise. Errors:
 * SK_ERR_INVALID_ARGUMENT, SK_ERR_BAD_ATTRIBUTE (empty), SK_ERR_BAD_OPERATOR,
 * SK_ERR_TOO_MANY_RULES, SK_ERR_NOMEM; the flag is unchanged on error. Same as
 * sk_flag_begin_rule followed by sk_flag_add_condition without negate. */
SK_API(sk_flag_add_rule)
int32_t sk_flag_add_rule(sk_flag *flag, const char *attribute, size_t attribute_len, int32_t op);

/* Appends a value (any bytes, the empty string included) to the most recently added condition
 * of the most recently added rule. The value is copied. Errors: SK_ERR_INVALID_ARGUMENT,
 * SK_ERR_NO_RULE (no rule, or a rule without a condition yet), SK_ERR_TOO_MANY_VALUES,
 * SK_ERR_BAD_VALUE (a numeric operator's value outside JSON's number grammar, a SemVer
 * operator's value that is not a SemVer 2.0.0 version), SK_ERR_NOMEM; the flag is unchanged on
 * error. */
SK_API(sk_flag_add_value)
int32_t sk_flag_add_value(sk_flag *flag, const char *value, size_t value_len);

/* ---- building a typed flag (version 2) ------------------------------------------------------- */

/* Starts a flag of an sk_flag_type. Boolean flags take variant_count 0 (their variants are the
 * implicit SK_VARIANT_OFF and SK_VARIANT_ON) and a rollout as sk_flag_new; other types take
 * 1..SK_MAX_VARIANTS variants, numbered 0..variant_count-1 in the binding's order, and rollout -1.
 * Ownership and version as sk_flag_new. Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_BAD_KEY,
 * SK_ERR_BAD_TYPE, SK_ERR_BAD_VARIANT (variant_count), SK_ERR_BAD_ROLLOUT (out of range, or not
 * -1 on a non-boolean flag), SK_ERR_NOMEM; *out is NULL on error. */
SK_API(sk_flag_new_typed)
int32_t sk_flag_new_typed(const char *key, size_t key_len, int32_t type, bool enabled,
                          int32_t rollout, uint32_t variant_count, uint64_t version, sk_flag **out);

/* Sets the attribute whose text replaces the user key in every hash of this flag (copied; an
 * empty name clears it). Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_NOMEM; unchanged on error. */
SK_API(sk_flag_set_bucket_by)
int32_t sk_flag_set_bucket_by(sk_flag *flag, const char *attribute, size_t attribute_len);

/* Sets the variant served while the flag is off (non-boolean flags; required there). Errors:
 * SK_ERR_INVALID_ARGUMENT, SK_ERR_BAD_VARIANT (out of range, or a boolean flag). */
SK_API(sk_flag_set_off_variant) int32_t sk_flag_set_off_variant(sk_flag *flag, int32_t variant);

/* Appends a rule with no condition yet (add 1..SK_MAX_CONDITIONS with sk_flag_add_condition).
 * A boolean flag's rule serves SK_VARIANT_ON unless told otherwise; any other type's rule must
 * get a serve before upsert. Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_TOO_MANY_RULES,
 * SK_ERR_NOMEM; unchanged on error. */
SK_API(sk_flag_begin_rule) int32_t sk_flag_begin_rule(sk_flag *flag);

/* Appends a condition to the most recently added rule; its values follow with
 * sk_flag_add_value. negate inverts the condition when the attribute is present. The attribute
 * is copied. Errors: SK_ERR_INVALID_ARGUMENT, SK_ERR_NO_RULE, SK_ERR_BAD_ATTRIBUTE (empty),
 * SK_ERR_BAD_OPERATOR, SK_ERR_TOO_MANY_CONDITIONS, SK_ERR_NOMEM; unchanged on error. */
SK_API(sk_flag_add_condition)
int32_t sk_flag_add_condition(sk_flag *flag, const char *attribute, size_t attribute_len,
                              int32_t op, bool negate);

/* Makes target (an sk_serve_target) serve one variant: an index below the flag's variant count,
 * or SK_VARIANT_OFF / SK_VARIANT_ON on a boolean flag. Errors: SK_ERR_INVALID_ARGUMENT,
 * SK_ERR_NO_RULE (SK_SERVE_RULE before any rule), SK_ERR_BAD_VARIANT (index out of range,
 * target outside sk_serve_target, or SK_SERVE_FALLTHROUGH on a boolean flag, whose fallthrough
 * is its rollout), SK_ERR_NOMEM; unchanged on error. */
SK_API(sk_flag_serve_variant)
int32_t sk_flag_serve_variant(sk_flag *flag, int32_t target, int32_t variant);

/* Makes target serve a split: count entries (1..SK_MAX_VARIANTS), entry i giving variants[i]
 * weights[i] of SK_SPLIT_TOTAL; weights are 0..1000 and add up to exactly SK_SPLIT_TOTAL. The
 * arrays are copied. Errors as sk_flag_serve_variant, plus SK_ERR_BAD_SPLIT; unchanged on
 * error. */
SK_API(sk_flag_serve_split)
int32_t sk_flag_serve_split(sk_flag *flag, int32_t target, const int32_t *variants,
                            const uint32_t *weights, size_t count);

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
 * store or flag; SK_ERR_INCOMPLETE for a flag missing a part (see sk_status; store unchanged);
 * SK_ERR_NOMEM (store unchanged).
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

/* Version 2: evaluates flag_key with typed attributes and fills *out with the served variant,
 * reason, rule, bucket, version and type. Attribute names as sk_store_is_enabled. Returns
 * SK_OK, or SK_ERR_INVALID_ARGUMENT for a NULL store or out, or a NULL pointer with a non-zero
 * length (then *out, if not NULL, says FLAG_NOT_FOUND). Allocates nothing. */
SK_API(sk_store_evaluate_typed)
int32_t sk_store_evaluate_typed(const sk_store *store, const char *flag_key, size_t flag_key_len,
                                const char *user_key, size_t user_key_len,
                                const sk_typed_attribute *attributes, size_t attribute_count,
                                sk_typed_evaluation *out);

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

/* Version 2: as sk_store_evaluate_typed, for a flag returned by sk_store_find (errors as
 * sk_flag_evaluate). */
SK_API(sk_flag_evaluate_typed)
int32_t sk_flag_evaluate_typed(const sk_flag *flag, const char *user_key, size_t user_key_len,
                               const sk_typed_attribute *attributes, size_t attribute_count,
                               sk_typed_evaluation *out);

#ifdef __cplusplus
}
#endif

#endif /* SIDEKICK_H */
