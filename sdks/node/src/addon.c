/*
 * addon.c — Node-API glue: hands JavaScript's flags and evaluation inputs to the C core.
 *
 * Evaluation lives in evalcore/src; this file only moves bytes. Every string conversion through
 * Node-API costs 70-100 ns, so the hot path takes no arguments at all: JavaScript writes the flag's
 * slot number, the user key and the attribute values into one shared ArrayBuffer (the "scratch"),
 * and the flag key and attribute names were converted once, when the flag was stored. The core
 * hands back a handle to each stored flag (sk_store_find), so a call does not even look the key
 * up: it evaluates the slot's flag directly (sk_flag_is_enabled).
 *
 * Scratch layout (kept in step with src/native.ts):
 *   u32[0]              slot of the flag (an index JavaScript assigned at upsert)
 *   u32[1]              byte length of the user key
 *   u32[4..11]          out: enabled, reason, rule_index, bucket, version low, version high,
 *                       then (typed evaluation) variant, type
 *   u32[16 + i]         byte length of the text of the flag's i-th attribute name, or ABSENT
 *   u8[KIND_OFFSET + i] (typed evaluation) the i-th attribute's sk_value_kind
 *   f64 at NUMBER_OFFSET + 8 i  (typed evaluation) the i-th attribute's number or boolean
 *   bytes DATA_OFFSET   user key bytes, then the present attributes' texts, back to back
 *
 * Version 1 flags (boolean, one text condition per rule, no negate, serve or bucket_by) take
 * sk_flag_evaluate with text attributes, as before; every other flag takes
 * sk_flag_evaluate_typed, so numbers and booleans cross the ABI by value, not as text.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sidekick.h"

#define HDR_SLOT       0
#define HDR_USER_LEN   1
#define HDR_OUT        4
#define HDR_VALUE_LENS 16
/* Distinct attribute names of one flag: every condition of every rule, and bucket_by. */
#define MAX_NAMES       (SK_MAX_RULES * SK_MAX_CONDITIONS + 1)
#define KIND_OFFSET     8448
#define NUMBER_OFFSET   10496
#define DATA_OFFSET     32768
#define ABSENT          0xFFFFFFFFu
#define INITIAL_SCRATCH (128 * 1024)
#define STACK_STRING    256

/* What the glue remembers about one stored flag: its key, the core's handle to it (refreshed
 * after every write to that key, as sk_store_find requires) and its rules' distinct attributes. */
typedef struct slot {
  const sk_flag *flag;
  char *key;
  size_t key_len;
  size_t name_count;
  char **names;
  size_t *name_lens;
} slot;

typedef struct store_context {
  sk_store *store;
  sk_flag *pending; /* the flag being built between begin() and commit() */
  napi_ref scratch_ref;
  uint8_t *scratch;
  size_t scratch_len;
  slot *slots;
  size_t slot_capacity;
  sk_attribute *attrs;             /* MAX_NAMES entries, filled per evaluation */
  sk_typed_attribute *typed_attrs; /* MAX_NAMES entries, filled per typed evaluation */
} store_context;

/* Throws a JavaScript Error for a failed Node-API call; the caller then returns NULL. */
static napi_value throw_napi(napi_env env, const char *what) {
  napi_throw_error(env, "SIDEKICK_NAPI", what);
  return NULL;
}

#define NAPI_OK(env, call)                                                                         \
  do {                                                                                             \
    if ((call) != napi_ok)                                                                         \
      return throw_napi((env), #call);                                                             \
  } while (0)

static napi_value make_int(napi_env env, int32_t value) {
  napi_value out;
  if (napi_create_int32(env, value, &out) != napi_ok)
    return NULL;
  return out;
}

/* A JavaScript string as UTF-8: into stack_buf when it fits, else into a malloc'ed buffer the
 * caller frees when *heap is set. Returns NULL (with an exception pending) on failure. */
static char *read_string(napi_env env, napi_value value, char *stack_buf, size_t stack_len,
                         size_t *len, char **heap) {
  *heap = NULL;
  size_t needed;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &needed) != napi_ok) {
    napi_throw_type_error(env, "SIDEKICK_TYPE", "expected a string");
    return NULL;
  }
  char *buf = stack_buf;
  if (needed + 1 > stack_len) {
    buf = malloc(needed + 1);
    if (buf == NULL) {
      napi_throw_error(env, "SIDEKICK_NOMEM", "out of memory");
      return NULL;
    }
    *heap = buf;
  }
  if (napi_get_value_string_utf8(env, value, buf, needed + 1, len) != napi_ok) {
    free(*heap);
    *heap = NULL;
    napi_throw_type_error(env, "SIDEKICK_TYPE", "expected a string");
    return NULL;
  }
  return buf;
}

static char *copy_bytes(const char *bytes, size_t len) {
  char *copy = malloc(len == 0 ? 1 : len);
  if (copy != NULL && len > 0)
    memcpy(copy, bytes, len);
  return copy;
}

static void slot_release(slot *s) {
  free(s->key);
  for (size_t i = 0; i < s->name_count; i++)
    free(s->names[i]);
  free(s->names);
  free(s->name_lens);
  memset(s, 0, sizeof(*s));
}

static store_context *context_of(napi_env env, napi_callback_info info, size_t *argc,
                                 napi_value *argv) {
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, NULL, &data) != napi_ok)
    return NULL;
  return data;
}

/* The store of a method taking `wanted` arguments into argv, or NULL after throwing an Error
 * that names the method's usage (when Node-API fails or there are too few arguments). */
static store_context *method_args(napi_env env, napi_callback_info info, size_t wanted,
                                  napi_value *argv, const char *usage) {
  size_t argc = wanted;
  store_context *ctx = context_of(env, info, &argc, argv);
  if (ctx == NULL || argc < wanted) {
    throw_napi(env, usage);
    return NULL;
  }
  return ctx;
}

/* A string argument as UTF-8 (see read_string); release with text_free. */
typedef struct text {
  char stack_buf[STACK_STRING];
  char *heap;
  const char *data;
  size_t len;
} text;

/* Reads value into t; false (with an exception pending) when it is not a string. */
static bool text_read(napi_env env, napi_value value, text *t) {
  t->data = read_string(env, value, t->stack_buf, sizeof(t->stack_buf), &t->len, &t->heap);
  return t->data != NULL;
}

static void text_free(text *t) {
  free(t->heap);
  t->heap = NULL;
}

/* ---- the hot path ---------------------------------------------------------------------------- */

/* Gathers the slot, user key and present attributes from the scratch. Returns the slot, or NULL
 * when the scratch names no stored flag or its lengths overrun it. */
static const slot *gather(const store_context *ctx, const uint8_t **user, size_t *user_len,
                          sk_attribute *attrs, size_t *attr_count) {
  const uint32_t *hdr = (const uint32_t *)ctx->scratch;
  uint32_t index = hdr[HDR_SLOT];
  if (index >= ctx->slot_capacity || ctx->slots[index].key == NULL)
    return NULL;
  const slot *s = &ctx->slots[index];
  size_t limit = ctx->scratch_len - DATA_OFFSET;
  size_t used = hdr[HDR_USER_LEN];
  if (used > limit)
    return NULL;
  *user = ctx->scratch + DATA_OFFSET;
  *user_len = used;
  size_t count = 0;
  for (size_t i = 0; i < s->name_count; i++) {
    uint32_t value_len = hdr[HDR_VALUE_LENS + i];
    if (value_len == ABSENT)
      continue;
    if (value_len > limit - used)
      return NULL;
    attrs[count].name = s->names[i];
    attrs[count].name_len = s->name_lens[i];
    attrs[count].value = (const char *)ctx->scratch + DATA_OFFSET + used;
    attrs[count].value_len = value_len;
    used += value_len;
    count++;
  }
  *attr_count = count;
  return s;
}

static napi_value store_is_enabled(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  int32_t enabled = 0;
  const uint8_t *user;
  size_t user_len, attr_count;
  sk_attribute *attrs = ctx == NULL ? NULL : ctx->attrs;
  const slot *s = ctx == NULL ? NULL : gather(ctx, &user, &user_len, attrs, &attr_count);
  if (s != NULL)
    enabled = sk_flag_is_enabled(s->flag, (const char *)user, user_len, attrs, attr_count);
  napi_value out;
  NAPI_OK(env, napi_get_boolean(env, enabled != 0, &out));
  return out;
}

/* Writes the evaluation into the scratch's out words; JavaScript reads them back. */
static napi_value store_evaluate(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx == NULL)
    return throw_napi(env, "napi_get_cb_info");
  sk_evaluation result = {0, SK_REASON_FLAG_NOT_FOUND, -1, -1, 0};
  const uint8_t *user;
  size_t user_len, attr_count;
  const slot *s = gather(ctx, &user, &user_len, ctx->attrs, &attr_count);
  if (s != NULL)
    sk_flag_evaluate(s->flag, (const char *)user, user_len, ctx->attrs, attr_count, &result);
  uint32_t *out = (uint32_t *)ctx->scratch + HDR_OUT;
  out[0] = (uint32_t)result.enabled;
  out[1] = (uint32_t)result.reason;
  out[2] = (uint32_t)result.rule_index;
  out[3] = (uint32_t)result.bucket;
  out[4] = (uint32_t)(result.version & 0xFFFFFFFFu);
  out[5] = (uint32_t)(result.version >> 32);
  return NULL;
}

/* As gather, for a typed evaluation: each present attribute has a kind, a number (numbers and
 * booleans) and a text (strings; a number's text when JavaScript gave one, e.g. a BigInt's). */
static const slot *gather_typed(const store_context *ctx, const uint8_t **user, size_t *user_len,
                                size_t *attr_count) {
  const uint32_t *hdr = (const uint32_t *)ctx->scratch;
  uint32_t index = hdr[HDR_SLOT];
  if (index >= ctx->slot_capacity || ctx->slots[index].key == NULL)
    return NULL;
  const slot *s = &ctx->slots[index];
  const uint8_t *kinds = ctx->scratch + KIND_OFFSET;
  const double *numbers = (const double *)(ctx->scratch + NUMBER_OFFSET);
  size_t limit = ctx->scratch_len - DATA_OFFSET;
  size_t used = hdr[HDR_USER_LEN];
  if (used > limit)
    return NULL;
  *user = ctx->scratch + DATA_OFFSET;
  *user_len = used;
  size_t count = 0;
  for (size_t i = 0; i < s->name_count; i++) {
    uint32_t text_len = hdr[HDR_VALUE_LENS + i];
    if (text_len == ABSENT)
      continue;
    if (text_len > limit - used)
      return NULL;
    sk_typed_attribute *attr = &ctx->typed_attrs[count++];
    attr->name = s->names[i];
    attr->name_len = s->name_lens[i];
    attr->kind = kinds[i];
    attr->number = numbers[i];
    attr->text = text_len == 0 && kinds[i] == SK_VALUE_NUMBER
                     ? NULL
                     : (const char *)ctx->scratch + DATA_OFFSET + used;
    attr->text_len = text_len;
    attr->reserved = 0;
    used += text_len;
  }
  *attr_count = count;
  return s;
}

/* Writes the typed evaluation into the scratch's out words (variant and type after the rest). */
static napi_value store_evaluate_typed(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx == NULL)
    return throw_napi(env, "napi_get_cb_info");
  sk_typed_evaluation result = {0, SK_REASON_FLAG_NOT_FOUND, -1, -1, 0, -1, -1};
  const uint8_t *user;
  size_t user_len, attr_count;
  const slot *s = gather_typed(ctx, &user, &user_len, &attr_count);
  if (s != NULL)
    sk_flag_evaluate_typed(s->flag, (const char *)user, user_len, ctx->typed_attrs, attr_count,
                           &result);
  uint32_t *out = (uint32_t *)ctx->scratch + HDR_OUT;
  out[0] = (uint32_t)result.enabled;
  out[1] = (uint32_t)result.reason;
  out[2] = (uint32_t)result.rule_index;
  out[3] = (uint32_t)result.bucket;
  out[4] = (uint32_t)(result.version & 0xFFFFFFFFu);
  out[5] = (uint32_t)(result.version >> 32);
  out[6] = (uint32_t)result.variant;
  out[7] = (uint32_t)result.type;
  return NULL;
}

/* ---- building and storing flags ----------------------------------------------------------- */

/* begin(key, enabled, rollout, version) -> sk_status: starts the pending flag. */
static napi_value store_begin(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  store_context *ctx = method_args(env, info, 4, argv, "begin(key, enabled, rollout, version)");
  if (ctx == NULL)
    return NULL;
  sk_flag_free(ctx->pending);
  ctx->pending = NULL;
  text key;
  if (!text_read(env, argv[0], &key))
    return NULL;
  bool enabled;
  int32_t rollout;
  double version;
  if (napi_get_value_bool(env, argv[1], &enabled) != napi_ok ||
      napi_get_value_int32(env, argv[2], &rollout) != napi_ok ||
      napi_get_value_double(env, argv[3], &version) != napi_ok) {
    text_free(&key);
    return throw_napi(env, "begin(key, enabled, rollout, version): bad argument types");
  }
  int32_t status =
      sk_flag_new(key.data, key.len, enabled, rollout, (uint64_t)version, &ctx->pending);
  text_free(&key);
  return make_int(env, status);
}

/* beginTyped(key, type, enabled, rollout, variantCount, version) -> sk_status: starts the
 * pending flag as a version 2 flag. */
static napi_value store_begin_typed(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  store_context *ctx = method_args(
      env, info, 6, argv, "beginTyped(key, type, enabled, rollout, variantCount, version)");
  if (ctx == NULL)
    return NULL;
  sk_flag_free(ctx->pending);
  ctx->pending = NULL;
  text key;
  if (!text_read(env, argv[0], &key))
    return NULL;
  int32_t type, rollout;
  bool enabled;
  uint32_t variant_count;
  double version;
  if (napi_get_value_int32(env, argv[1], &type) != napi_ok ||
      napi_get_value_bool(env, argv[2], &enabled) != napi_ok ||
      napi_get_value_int32(env, argv[3], &rollout) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &variant_count) != napi_ok ||
      napi_get_value_double(env, argv[5], &version) != napi_ok) {
    text_free(&key);
    return throw_napi(env, "beginTyped: bad argument types");
  }
  int32_t status = sk_flag_new_typed(key.data, key.len, type, enabled, rollout, variant_count,
                                     (uint64_t)version, &ctx->pending);
  text_free(&key);
  return make_int(env, status);
}

/* beginRule() -> sk_status: appends a rule without conditions yet. */
static napi_value store_begin_rule(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx == NULL)
    return throw_napi(env, "napi_get_cb_info");
  return make_int(env, sk_flag_begin_rule(ctx->pending));
}

/* addCondition(attribute, operator, negate) -> sk_status */
static napi_value store_add_condition(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  store_context *ctx = method_args(env, info, 3, argv, "addCondition(attribute, operator, negate)");
  if (ctx == NULL)
    return NULL;
  text attribute;
  if (!text_read(env, argv[0], &attribute))
    return NULL;
  int32_t op;
  bool negate;
  if (napi_get_value_int32(env, argv[1], &op) != napi_ok ||
      napi_get_value_bool(env, argv[2], &negate) != napi_ok) {
    text_free(&attribute);
    return throw_napi(env, "addCondition: bad argument types");
  }
  int32_t status = sk_flag_add_condition(ctx->pending, attribute.data, attribute.len, op, negate);
  text_free(&attribute);
  return make_int(env, status);
}

/* serve(target, variants: number[], weights: number[] | null) -> sk_status: one variant when
 * weights is null, else a split. */
static napi_value store_serve(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  store_context *ctx = method_args(env, info, 3, argv, "serve(target, variants, weights)");
  if (ctx == NULL)
    return NULL;
  int32_t target;
  uint32_t count;
  napi_valuetype weights_type;
  NAPI_OK(env, napi_get_value_int32(env, argv[0], &target));
  NAPI_OK(env, napi_get_array_length(env, argv[1], &count));
  NAPI_OK(env, napi_typeof(env, argv[2], &weights_type));
  if (count == 0 || count > SK_MAX_VARIANTS)
    return make_int(env, SK_ERR_BAD_SPLIT);
  int32_t variants[SK_MAX_VARIANTS];
  uint32_t weights[SK_MAX_VARIANTS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    NAPI_OK(env, napi_get_element(env, argv[1], i, &element));
    NAPI_OK(env, napi_get_value_int32(env, element, &variants[i]));
    if (weights_type != napi_null) {
      NAPI_OK(env, napi_get_element(env, argv[2], i, &element));
      NAPI_OK(env, napi_get_value_uint32(env, element, &weights[i]));
    }
  }
  int32_t status = weights_type == napi_null
                       ? sk_flag_serve_variant(ctx->pending, target, variants[0])
                       : sk_flag_serve_split(ctx->pending, target, variants, weights, count);
  return make_int(env, status);
}

/* setOffVariant(variant) -> sk_status */
static napi_value store_set_off_variant(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  store_context *ctx = method_args(env, info, 1, argv, "setOffVariant(variant)");
  if (ctx == NULL)
    return NULL;
  int32_t variant;
  NAPI_OK(env, napi_get_value_int32(env, argv[0], &variant));
  return make_int(env, sk_flag_set_off_variant(ctx->pending, variant));
}

/* setBucketBy(attribute) -> sk_status */
static napi_value store_set_bucket_by(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  store_context *ctx = method_args(env, info, 1, argv, "setBucketBy(attribute)");
  if (ctx == NULL)
    return NULL;
  text attribute;
  if (!text_read(env, argv[0], &attribute))
    return NULL;
  int32_t status = sk_flag_set_bucket_by(ctx->pending, attribute.data, attribute.len);
  text_free(&attribute);
  return make_int(env, status);
}

/* addRule(attribute, operator) -> sk_status */
static napi_value store_add_rule(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  store_context *ctx = method_args(env, info, 2, argv, "addRule(attribute, operator)");
  if (ctx == NULL)
    return NULL;
  text attribute;
  if (!text_read(env, argv[0], &attribute))
    return NULL;
  int32_t op;
  if (napi_get_value_int32(env, argv[1], &op) != napi_ok) {
    text_free(&attribute);
    return throw_napi(env, "addRule: operator must be a number");
  }
  int32_t status = sk_flag_add_rule(ctx->pending, attribute.data, attribute.len, op);
  text_free(&attribute);
  return make_int(env, status);
}

/* addValues(values: string[]) -> index of the first rejected value, or -1 when all were added;
 * the status of the rejection is left in the scratch's first out word. */
static napi_value store_add_values(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  store_context *ctx = method_args(env, info, 1, argv, "addValues(values)");
  if (ctx == NULL)
    return NULL;
  uint32_t count;
  NAPI_OK(env, napi_get_array_length(env, argv[0], &count));
  text value;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    NAPI_OK(env, napi_get_element(env, argv[0], i, &element));
    if (!text_read(env, element, &value))
      return NULL;
    int32_t status = sk_flag_add_value(ctx->pending, value.data, value.len);
    text_free(&value);
    if (status != SK_OK) {
      ((uint32_t *)ctx->scratch)[HDR_OUT] = (uint32_t)status;
      return make_int(env, (int32_t)i);
    }
  }
  return make_int(env, -1);
}

/* Remembers key and attribute names for a slot; returns false when out of memory. */
static bool slot_fill(slot *s, const char *key, size_t key_len, char **names, size_t *name_lens,
                      size_t name_count) {
  s->key = copy_bytes(key, key_len);
  s->key_len = key_len;
  s->names = calloc(name_count == 0 ? 1 : name_count, sizeof(char *));
  s->name_lens = calloc(name_count == 0 ? 1 : name_count, sizeof(size_t));
  if (s->key == NULL || s->names == NULL || s->name_lens == NULL)
    return false;
  for (size_t i = 0; i < name_count; i++) {
    s->names[i] = copy_bytes(names[i], name_lens[i]);
    if (s->names[i] == NULL)
      return false;
    s->name_lens[i] = name_lens[i];
    s->name_count = i + 1;
  }
  return true;
}

static bool ensure_slots(store_context *ctx, uint32_t index) {
  if (index < ctx->slot_capacity)
    return true;
  size_t capacity = ctx->slot_capacity == 0 ? 64 : ctx->slot_capacity;
  while (capacity <= index)
    capacity *= 2;
  slot *grown = realloc(ctx->slots, capacity * sizeof(slot));
  if (grown == NULL)
    return false;
  memset(grown + ctx->slot_capacity, 0, (capacity - ctx->slot_capacity) * sizeof(slot));
  ctx->slots = grown;
  ctx->slot_capacity = capacity;
  return true;
}

/* Looks the slot's flag up again: any upsert or remove of its key invalidates the old handle. */
static void slot_refresh(const store_context *ctx, slot *s) {
  if (s->key != NULL)
    s->flag = sk_store_find(ctx->store, s->key, s->key_len);
}

/* commit(slot, key, names: string[]) -> sk_status: hands the pending flag to the store and, when
 * it applied, records the key and attribute names under the slot. */
static napi_value store_commit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  store_context *ctx = method_args(env, info, 3, argv, "commit(slot, key, names)");
  if (ctx == NULL)
    return NULL;
  uint32_t index, name_count;
  NAPI_OK(env, napi_get_value_uint32(env, argv[0], &index));
  NAPI_OK(env, napi_get_array_length(env, argv[2], &name_count));
  if (name_count > MAX_NAMES)
    return throw_napi(env, "commit: too many attribute names");
  if (!ensure_slots(ctx, index))
    return make_int(env, SK_ERR_NOMEM);

  char key_buf[SK_MAX_KEY_BYTES + 1];
  size_t key_len;
  NAPI_OK(env, napi_get_value_string_utf8(env, argv[1], key_buf, sizeof(key_buf), &key_len));
  char **names = calloc(MAX_NAMES, sizeof(char *));
  size_t *name_lens = calloc(MAX_NAMES, sizeof(size_t));
  if (names == NULL || name_lens == NULL) {
    free(names);
    free(name_lens);
    return make_int(env, SK_ERR_NOMEM);
  }
  size_t converted = 0;
  int32_t status = SK_OK;
  for (; converted < name_count; converted++) {
    napi_value element;
    char stack_buf[STACK_STRING];
    char *heap;
    const char *name = NULL;
    if (napi_get_element(env, argv[2], (uint32_t)converted, &element) == napi_ok)
      name = read_string(env, element, stack_buf, sizeof(stack_buf), &name_lens[converted], &heap);
    if (name == NULL) {
      status = SK_ERR_INVALID_ARGUMENT;
      break;
    }
    names[converted] = heap != NULL ? heap : copy_bytes(name, name_lens[converted]);
    if (names[converted] == NULL) {
      status = SK_ERR_NOMEM;
      break;
    }
  }

  slot fresh = {0};
  if (status == SK_OK && !slot_fill(&fresh, key_buf, key_len, names, name_lens, converted))
    status = SK_ERR_NOMEM;
  for (size_t i = 0; i < converted; i++)
    free(names[i]);
  free(names);
  free(name_lens);
  if (status != SK_OK) {
    slot_release(&fresh);
    sk_flag_free(ctx->pending);
    ctx->pending = NULL;
    return make_int(env, status);
  }
  status = sk_store_upsert(ctx->store, ctx->pending);
  ctx->pending = NULL;
  if (status == SK_OK) {
    slot_release(&ctx->slots[index]);
    ctx->slots[index] = fresh;
  } else {
    slot_release(&fresh);
  }
  slot_refresh(ctx, &ctx->slots[index]);
  return make_int(env, status);
}

/* discard(): frees the pending flag after a rejected rule or value. */
static napi_value store_discard(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx != NULL) {
    sk_flag_free(ctx->pending);
    ctx->pending = NULL;
  }
  return NULL;
}

/* remove(key, version, slot) -> sk_status; slot is released when the flag was removed. */
static napi_value store_remove(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  store_context *ctx = method_args(env, info, 3, argv, "remove(key, version, slot)");
  if (ctx == NULL)
    return NULL;
  text key;
  if (!text_read(env, argv[0], &key))
    return NULL;
  double version;
  int32_t index;
  if (napi_get_value_double(env, argv[1], &version) != napi_ok ||
      napi_get_value_int32(env, argv[2], &index) != napi_ok) {
    text_free(&key);
    return throw_napi(env, "remove: version and slot must be numbers");
  }
  int32_t status = sk_store_remove(ctx->store, key.data, key.len, (uint64_t)version);
  text_free(&key);
  if (index >= 0 && (size_t)index < ctx->slot_capacity) {
    if (status == SK_OK)
      slot_release(&ctx->slots[index]);
    else
      slot_refresh(ctx, &ctx->slots[index]);
  }
  return make_int(env, status);
}

static napi_value store_clear(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx == NULL)
    return throw_napi(env, "napi_get_cb_info");
  sk_store_clear(ctx->store);
  for (size_t i = 0; i < ctx->slot_capacity; i++)
    slot_release(&ctx->slots[i]);
  return NULL;
}

static napi_value store_count(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  store_context *ctx = context_of(env, info, &argc, NULL);
  if (ctx == NULL)
    return throw_napi(env, "napi_get_cb_info");
  napi_value out;
  NAPI_OK(env, napi_create_double(env, (double)sk_store_count(ctx->store), &out));
  return out;
}

/* version(key) -> the stored version (0 when absent or unversioned). */
static napi_value store_version(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  store_context *ctx = method_args(env, info, 1, argv, "version(key)");
  if (ctx == NULL)
    return NULL;
  text key;
  if (!text_read(env, argv[0], &key))
    return NULL;
  uint64_t version = sk_store_version(ctx->store, key.data, key.len);
  text_free(&key);
  napi_value out;
  NAPI_OK(env, napi_create_double(env, (double)version, &out));
  return out;
}

/* Replaces the scratch with a fresh buffer of at least the requested size and returns it. */
static napi_value new_scratch(napi_env env, store_context *ctx, size_t size) {
  napi_value buffer;
  void *data;
  NAPI_OK(env, napi_create_arraybuffer(env, size, &data, &buffer));
  napi_ref ref;
  NAPI_OK(env, napi_create_reference(env, buffer, 1, &ref));
  if (ctx->scratch_ref != NULL)
    napi_delete_reference(env, ctx->scratch_ref);
  ctx->scratch_ref = ref;
  ctx->scratch = data;
  ctx->scratch_len = size;
  return buffer;
}

/* grow(bytes) -> a new, larger scratch ArrayBuffer (the old one must no longer be written). */
static napi_value store_grow(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  store_context *ctx = method_args(env, info, 1, argv, "grow(bytes)");
  if (ctx == NULL)
    return NULL;
  double wanted;
  NAPI_OK(env, napi_get_value_double(env, argv[0], &wanted));
  size_t size = ctx->scratch_len;
  while ((double)size < wanted + DATA_OFFSET)
    size *= 2;
  return new_scratch(env, ctx, size);
}

static void context_free(napi_env env, void *data, void *hint) {
  (void)hint;
  store_context *ctx = data;
  sk_flag_free(ctx->pending);
  sk_store_free(ctx->store);
  for (size_t i = 0; i < ctx->slot_capacity; i++)
    slot_release(&ctx->slots[i]);
  free(ctx->slots);
  free(ctx->attrs);
  free(ctx->typed_attrs);
  if (ctx->scratch_ref != NULL)
    napi_delete_reference(env, ctx->scratch_ref);
  free(ctx);
}

/* createStore() -> {scratch, isEnabled, evaluate, begin, addRule, addValues, commit, discard,
 * remove, clear, count, version, grow, and version 2's evaluateTyped, beginTyped, beginRule,
 * addCondition, serve, setOffVariant, setBucketBy}, every function bound to one new sk_store. */
static napi_value create_store(napi_env env, napi_callback_info info) {
  (void)info;
  store_context *ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL)
    return throw_napi(env, "out of memory");
  ctx->store = sk_store_new(SK_STORE_SINGLE_THREADED);
  ctx->attrs = calloc(MAX_NAMES, sizeof(sk_attribute));
  ctx->typed_attrs = calloc(MAX_NAMES, sizeof(sk_typed_attribute));
  napi_value object;
  if (ctx->store == NULL || ctx->attrs == NULL || ctx->typed_attrs == NULL ||
      napi_create_object(env, &object) != napi_ok ||
      napi_wrap(env, object, ctx, context_free, NULL, NULL) != napi_ok) {
    sk_store_free(ctx->store);
    free(ctx->attrs);
    free(ctx->typed_attrs);
    free(ctx);
    return throw_napi(env, "cannot create a store");
  }
  napi_value scratch = new_scratch(env, ctx, INITIAL_SCRATCH);
  if (scratch == NULL)
    return NULL;
  NAPI_OK(env, napi_set_named_property(env, object, "scratch", scratch));

  static const struct {
    const char *name;
    napi_callback fn;
  } methods[] = {
      {"isEnabled", store_is_enabled},
      {"evaluate", store_evaluate},
      {"begin", store_begin},
      {"addRule", store_add_rule},
      {"addValues", store_add_values},
      {"commit", store_commit},
      {"discard", store_discard},
      {"remove", store_remove},
      {"clear", store_clear},
      {"count", store_count},
      {"version", store_version},
      {"grow", store_grow},
      {"evaluateTyped", store_evaluate_typed},
      {"beginTyped", store_begin_typed},
      {"beginRule", store_begin_rule},
      {"addCondition", store_add_condition},
      {"serve", store_serve},
      {"setOffVariant", store_set_off_variant},
      {"setBucketBy", store_set_bucket_by},
  };
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    napi_value fn;
    NAPI_OK(env,
            napi_create_function(env, methods[i].name, NAPI_AUTO_LENGTH, methods[i].fn, ctx, &fn));
    NAPI_OK(env, napi_set_named_property(env, object, methods[i].name, fn));
  }
  return object;
}

/* ---- module-level functions ----------------------------------------------------------------- */

/* murmur3_32(bytes: Uint8Array, seed: number) -> unsigned 32-bit hash */
static napi_value murmur3(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2)
    return throw_napi(env, "murmur3_32(bytes, seed)");
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value arraybuffer;
  uint32_t seed;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &arraybuffer, &offset) !=
          napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "SIDEKICK_TYPE", "murmur3_32: expected a Uint8Array");
    return NULL;
  }
  NAPI_OK(env, napi_get_value_uint32(env, argv[1], &seed));
  napi_value out;
  NAPI_OK(env, napi_create_uint32(env, sk_murmur3_32(data, length, seed), &out));
  return out;
}

/* Calls name_of on the int32 first argument and returns the name as a JavaScript string. */
static napi_value code_name(napi_env env, napi_callback_info info,
                            const char *(*name_of)(int32_t code)) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t code;
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  NAPI_OK(env, napi_get_value_int32(env, argv[0], &code));
  napi_value out;
  NAPI_OK(env, napi_create_string_utf8(env, name_of(code), NAPI_AUTO_LENGTH, &out));
  return out;
}

/* statusName(code) -> "SK_ERR_BAD_KEY", ... */
static napi_value status_name(napi_env env, napi_callback_info info) {
  return code_name(env, info, sk_status_name);
}

/* reasonName(code) -> "FLAG_NOT_FOUND", "OFF", "RULE_MATCH", "ROLLOUT" */
static napi_value reason_name(napi_env env, napi_callback_info info) {
  return code_name(env, info, sk_reason_name);
}

/* operatorParse(name) -> sk_operator, or -1 */
static napi_value operator_parse(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  text name;
  if (!text_read(env, argv[0], &name))
    return NULL;
  int32_t op = sk_operator_parse(name.data, name.len);
  text_free(&name);
  return make_int(env, op);
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"createStore", create_store}, {"murmur3_32", murmur3},           {"statusName", status_name},
      {"reasonName", reason_name},   {"operatorParse", operator_parse},
  };
  for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
    napi_value fn;
    NAPI_OK(env, napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn,
                                      NULL, &fn));
    NAPI_OK(env, napi_set_named_property(env, exports, functions[i].name, fn));
  }
  napi_value abi;
  NAPI_OK(env, napi_create_uint32(env, sk_abi_version(), &abi));
  NAPI_OK(env, napi_set_named_property(env, exports, "abiVersion", abi));
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
