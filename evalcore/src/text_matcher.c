/*
 * text_matcher.c — the trie behind many-value Contains / StartsWith / EndsWith rules (see
 * text_matcher.h for what it answers and what it costs).
 *
 * Layout: nodes are numbered breadth-first, so the root is 0, every node's children have
 * consecutive numbers in byte order, and a node's failure link always points to a smaller
 * number. A node's children are therefore the range [first_child[u], first_child[u + 1]) and the
 * full rows can cover exactly the first dense_count nodes.
 *
 * Contains scans in "codes" rather than node numbers, so that the common step is one load with
 * no multiplication and no second load: a node with a full row is coded as its row's offset in
 * rows (node * class_count, below dense_cells), any other node as dense_cells + (node -
 * dense_count), and a node where a value ends as MATCHED (the scan stops there).
 */
#include "text_matcher.h"

#include <stdlib.h>
#include <string.h>

#include "sidekick.h"

/* The full rows may hold DENSE_BASE_CELLS transitions plus DENSE_CELLS_PER_BYTE per value byte
 * (at least the root's row). Tests set both to 0 to run Contains on failure links alone. */
#ifdef SK_TEXT_MATCHER_DENSE_BASE_CELLS
#define DENSE_BASE_CELLS SK_TEXT_MATCHER_DENSE_BASE_CELLS
#else
#define DENSE_BASE_CELLS 4096u
#endif
#ifdef SK_TEXT_MATCHER_DENSE_CELLS_PER_BYTE
#define DENSE_CELLS_PER_BYTE SK_TEXT_MATCHER_DENSE_CELLS_PER_BYTE
#else
#define DENSE_CELLS_PER_BYTE 2u
#endif

/* Children lists up to this long are scanned inline; longer ones go to memchr. */
#define INLINE_CHILD_SCAN 8u

/* The code of every node where a value ends, or ends at one of its suffixes. */
#define MATCHED UINT32_MAX

struct sk_text_matcher {
  int32_t op;
  bool matches_all; /* an empty value is a substring, prefix and suffix of every text */
  uint32_t node_count;
  uint32_t class_count; /* Contains: columns of the full rows */
  uint32_t dense_count; /* Contains: nodes 0 .. dense_count - 1 have full rows */
  uint32_t dense_cells; /* Contains: dense_count * class_count */
  uint8_t byte_class[256];
  uint8_t *label;        /* per node: the byte on the edge from its parent (unused for the root) */
  uint32_t *first_child; /* node_count + 1 entries */
  uint8_t *accepts;      /* per node: a value ends here (Contains: or at a suffix of it) */
  uint32_t *fail;        /* Contains, per node: the longest proper suffix that is a node */
  uint32_t *rows;        /* Contains: dense_cells codes of next nodes */
};

/* One value as the trie reads it (for EndsWith, reversed). */
typedef struct entry {
  const unsigned char *ptr;
  size_t len;
} entry;

/* Plain byte order; a value sorts before the values it is a prefix of. */
static int compare_entries(const void *a, const void *b) {
  const entry *x = a;
  const entry *y = b;
  const size_t n = x->len < y->len ? x->len : y->len;
  const int order = n > 0 ? memcmp(x->ptr, y->ptr, n) : 0;
  if (order != 0) {
    return order;
  }
  return (x->len > y->len) - (x->len < y->len);
}

/* The child of node labelled c, or 0 (the root is nobody's child). */
static inline uint32_t child_of(const sk_text_matcher *m, uint32_t node, unsigned char c) {
  const uint32_t first = m->first_child[node];
  const uint32_t end = m->first_child[node + 1];
  if (end - first <= INLINE_CHILD_SCAN) {
    for (uint32_t u = first; u < end; u++) {
      if (m->label[u] == c) {
        return u;
      }
    }
    return 0;
  }
  const uint8_t *found = memchr(m->label + first, c, end - first);
  return found != NULL ? (uint32_t)(found - m->label) : 0;
}

void sk_text_matcher_free(sk_text_matcher *matcher) {
  if (matcher == NULL) {
    return;
  }
  free(matcher->label);
  free(matcher->first_child);
  free(matcher->accepts);
  free(matcher->fail);
  free(matcher->rows);
  free(matcher);
}

/* The number of trie nodes, root included, for sorted non-empty entries: each entry adds the
 * bytes it does not share with the one before it. */
static size_t count_nodes(const entry *entries, size_t count) {
  size_t nodes = 1;
  for (size_t i = 0; i < count; i++) {
    size_t shared = 0;
    if (i > 0) {
      const size_t n = entries[i - 1].len < entries[i].len ? entries[i - 1].len : entries[i].len;
      while (shared < n && entries[i - 1].ptr[shared] == entries[i].ptr[shared]) {
        shared++;
      }
    }
    nodes += entries[i].len - shared;
  }
  return nodes;
}

/* Lays the sorted entries out as a breadth-first trie: one pass per depth over the entries still
 * long enough, each creating a node whenever its (parent, byte) pair differs from the previous
 * entry's. Fills label, accepts and first_child. */
static int32_t lay_out_trie(sk_text_matcher *m, const entry *entries, size_t count) {
  uint32_t *node_of = calloc(count > 0 ? count : 1, sizeof *node_of);
  size_t *active = malloc((count > 0 ? count : 1) * sizeof *active);
  uint32_t *parent = malloc(m->node_count * sizeof *parent);
  if (node_of == NULL || active == NULL || parent == NULL) {
    free(node_of);
    free(active);
    free(parent);
    return SK_ERR_NOMEM;
  }
  for (size_t i = 0; i < count; i++) {
    active[i] = i;
  }
  size_t active_count = count;
  uint32_t next = 1;
  parent[0] = 0;
  for (size_t depth = 0; active_count > 0; depth++) {
    uint32_t last = 0;
    uint32_t last_parent = UINT32_MAX;
    int last_byte = -1;
    size_t kept = 0;
    for (size_t k = 0; k < active_count; k++) {
      const size_t i = active[k];
      const uint32_t p = node_of[i];
      const unsigned char c = entries[i].ptr[depth];
      if (p != last_parent || c != last_byte) {
        last = next++;
        m->label[last] = c;
        parent[last] = p;
        last_parent = p;
        last_byte = c;
      }
      node_of[i] = last;
      if (entries[i].len == depth + 1) {
        m->accepts[last] = 1;
      } else {
        active[kept++] = i;
      }
    }
    active_count = kept;
  }
  /* Parents never decrease along the numbering, so each node's children start at the first
   * node whose parent is not smaller than it. */
  uint32_t u = 1;
  for (uint32_t p = 0; p < m->node_count; p++) {
    while (u < m->node_count && parent[u] < p) {
      u++;
    }
    m->first_child[p] = u;
  }
  m->first_child[m->node_count] = m->node_count;
  free(node_of);
  free(active);
  free(parent);
  return SK_OK;
}

/* A node's code in a Contains scan (see the top of this file). */
static uint32_t code_of(const sk_text_matcher *m, uint32_t node) {
  if (m->accepts[node]) {
    return MATCHED;
  }
  return node < m->dense_count ? node * m->class_count : m->dense_cells + (node - m->dense_count);
}

/* Contains: failure links, acceptance inherited along them, byte classes and the full rows. */
static int32_t add_automaton(sk_text_matcher *m, size_t total_len) {
  const uint32_t n = m->node_count;
  m->fail = malloc(n * sizeof *m->fail);
  if (m->fail == NULL) {
    return SK_ERR_NOMEM;
  }
  m->fail[0] = 0;
  for (uint32_t p = 0; p < n; p++) {
    for (uint32_t u = m->first_child[p]; u < m->first_child[p + 1]; u++) {
      uint32_t target = 0;
      if (p != 0) {
        for (uint32_t f = m->fail[p];; f = m->fail[f]) {
          target = child_of(m, f, m->label[u]);
          if (target != 0 || f == 0) {
            break;
          }
        }
      }
      m->fail[u] = target;
      m->accepts[u] |= m->accepts[target];
    }
  }

  bool used[256] = {false};
  for (uint32_t u = 1; u < n; u++) {
    used[m->label[u]] = true;
  }
  bool every_byte_used = true;
  for (int b = 0; b < 256; b++) {
    every_byte_used = every_byte_used && used[b];
  }
  /* Class 0 is the bytes no value uses (when there are any): from every node they lead back to
   * the root, which never accepts (an empty value sets matches_all instead). */
  unsigned char representative[256] = {0};
  uint32_t classes = every_byte_used ? 0 : 1;
  for (int b = 0; b < 256; b++) {
    if (used[b]) {
      representative[classes] = (unsigned char)b;
      m->byte_class[b] = (uint8_t)classes++;
    } else {
      m->byte_class[b] = 0;
    }
  }
  m->class_count = classes;
  const size_t budget = DENSE_BASE_CELLS + DENSE_CELLS_PER_BYTE * total_len;
  size_t dense = budget / classes;
  dense = dense < 1 ? 1 : dense > n ? n : dense;
  m->dense_count = (uint32_t)dense;
  m->dense_cells = (uint32_t)(dense * classes);
  m->rows = malloc(dense * classes * sizeof *m->rows);
  if (m->rows == NULL) {
    return SK_ERR_NOMEM;
  }
  for (uint32_t s = 0; s < m->dense_count; s++) {
    uint32_t *row = m->rows + (size_t)s * classes;
    for (uint32_t k = 0; k < classes; k++) {
      if (k == 0 && !every_byte_used) {
        row[k] = 0; /* the root's code */
        continue;
      }
      const uint32_t target = child_of(m, s, representative[k]);
      /* The failure link is a smaller node, so its row is already complete. */
      row[k] = target != 0 ? code_of(m, target)
               : s == 0    ? 0
                           : m->rows[(size_t)m->fail[s] * classes + k];
    }
  }
  return SK_OK;
}

int32_t sk_text_matcher_build(int32_t op, const char *bytes, const size_t *ends, size_t count,
                              sk_text_matcher **out) {
  *out = NULL;
  const size_t total_len = count > 0 ? ends[count - 1] : 0;
  /* Node numbers and Contains codes (at most the rows' cells plus the nodes) are 32-bit, and
   * the rows' size in bytes must fit a size_t. */
  if (total_len > (UINT32_MAX - DENSE_BASE_CELLS) / (DENSE_CELLS_PER_BYTE + 2) ||
      total_len > (SIZE_MAX - DENSE_BASE_CELLS) / 16) {
    return SK_ERR_NOMEM;
  }
  sk_text_matcher *m = calloc(1, sizeof *m);
  entry *entries = malloc((count > 0 ? count : 1) * sizeof *entries);
  unsigned char *reversed = op == SK_OP_ENDS_WITH ? malloc(total_len > 0 ? total_len : 1) : NULL;
  if (m == NULL || entries == NULL || (op == SK_OP_ENDS_WITH && reversed == NULL)) {
    free(m);
    free(entries);
    free(reversed);
    return SK_ERR_NOMEM;
  }
  m->op = op;
  const unsigned char *source = (const unsigned char *)bytes;
  if (reversed != NULL) {
    for (size_t i = 0; i < total_len; i++) {
      reversed[i] = source[total_len - 1 - i];
    }
    source = reversed; /* value i reversed ends where the original starts, counted from the end */
  }
  size_t kept = 0;
  size_t start = 0;
  for (size_t i = 0; i < count; i++) {
    const size_t len = ends[i] - start;
    if (len == 0) {
      m->matches_all = true;
    } else {
      entries[kept].ptr = reversed != NULL ? source + (total_len - ends[i]) : source + start;
      entries[kept].len = len;
      kept++;
    }
    start = ends[i];
  }
  qsort(entries, kept, sizeof *entries, compare_entries);

  const size_t nodes = count_nodes(entries, kept);
  m->node_count = (uint32_t)nodes;
  m->label = malloc(nodes * sizeof *m->label);
  m->first_child = malloc((nodes + 1) * sizeof *m->first_child);
  m->accepts = calloc(nodes, sizeof *m->accepts);
  int32_t status = SK_ERR_NOMEM;
  if (m->label != NULL && m->first_child != NULL && m->accepts != NULL) {
    m->label[0] = 0;
    status = lay_out_trie(m, entries, kept);
  }
  free(entries);
  free(reversed);
  if (status == SK_OK && op == SK_OP_CONTAINS) {
    status = add_automaton(m, total_len);
  }
  if (status != SK_OK) {
    sk_text_matcher_free(m);
    return status;
  }
  *out = m;
  return SK_OK;
}

static bool contains_any(const sk_text_matcher *m, const unsigned char *text, size_t text_len) {
  const uint32_t *rows = m->rows;
  const uint32_t dense_cells = m->dense_cells;
  uint32_t code = 0; /* the root */
  for (size_t i = 0; i < text_len; i++) {
    const uint32_t k = m->byte_class[text[i]];
    if (code < dense_cells) {
      code = rows[code + k];
      if (code == MATCHED) {
        return true;
      }
      continue;
    }
    /* A node without a full row: follow failure links until a child fits or a node with a
     * full row takes over. */
    uint32_t node = code - dense_cells + m->dense_count;
    uint32_t next = child_of(m, node, text[i]);
    while (next == 0) {
      node = m->fail[node];
      if (node < m->dense_count) {
        break;
      }
      next = child_of(m, node, text[i]);
    }
    code = next != 0 ? code_of(m, next) : rows[(size_t)node * m->class_count + k];
    if (code == MATCHED) {
      return true;
    }
  }
  return false;
}

bool sk_text_matcher_matches(const sk_text_matcher *matcher, const char *text, size_t text_len) {
  if (matcher->matches_all) {
    return true;
  }
  const unsigned char *bytes = (const unsigned char *)text;
  if (matcher->op == SK_OP_CONTAINS) {
    return contains_any(matcher, bytes, text_len);
  }
  const bool backwards = matcher->op == SK_OP_ENDS_WITH;
  uint32_t s = 0;
  for (size_t i = 0; i < text_len; i++) {
    s = child_of(matcher, s, bytes[backwards ? text_len - 1 - i : i]);
    if (s == 0) {
      return false;
    }
    if (matcher->accepts[s]) {
      return true;
    }
  }
  return false;
}
