/* Sans-IO JSON encoder (RFC 8259): one Lua value in, one text out, the same bytes for the same data.
 *
 * Design notes:
 * - The output, the scratch space for reordering members, the member list and
 *   the key order start in C arrays on the C stack and move into Lua userdata
 *   (anchored in fixed stack slots) once they outgrow them: no C heap memory,
 *   so a Lua error (out of memory) unwinds through here without a leak.
 * - An object is written as lua_next visits it, each member's bytes noted;
 *   then the members are sorted (their rank in key_order, then bytewise) and
 *   copied back in that order. Each value is visited once and no key is looked
 *   up again, whatever the order lua_next chose.
 * - Recursive, bounded by max_depth (at most AR_ENCODE_MAX_DEPTH levels).
 * - Raw access only: metatables other than the array markers are ignored.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "encode.h"
#include "jsonchars.h"

#define AR_ENC_LOCAL_BYTES 4096
#define AR_ENC_LOCAL_MEMBERS 64
#define AR_ENC_LOCAL_KEYS 64
/* Lua stack slots per level: the key and the value of lua_next, and a metatable. */
#define AR_ENC_SLOTS 3
#define AR_ENC_INSERTION_SORT 16
/* Every integer of at most this magnitude is exact in a double. */
#define AR_ENC_EXACT 9007199254740992.0
/* 2^63: integral doubles below it are written as their exact integer, which a decoder
 * with 64-bit integers reads back as an integer of the same value. */
#define AR_ENC_INT64_LIMIT 9223372036854775808.0
/* A marked array may have holes (a decoded null), written as null; past this
 * many more holes than values it is refused rather than blown up. */
#define AR_ENC_MAX_HOLES 1000000
/* Bytes of a key that a message shows. */
#define AR_ENC_KEY_SHOWN 24

typedef struct ar_enc_area {
  char *data;
  size_t cap;
  int slot; /* the stack slot that anchors the userdata holding data, once it outgrew the local array */
} ar_enc_area;

typedef struct ar_enc_member {
  size_t off, len; /* the bytes `"key":value` in the output */
  const char *key; /* a string key's bytes, or NULL: the key is num */
  size_t klen;
  int rank;     /* the key's place in key_order, or INT_MAX */
  char num[24]; /* an integer key's digits */
} ar_enc_member;

typedef struct ar_enc_ordered {
  const char *s;
  size_t len;
} ar_enc_ordered;

typedef struct ar_enc {
  lua_State *L;
  ar_enc_area out, scratch, members, keys;
  size_t len;      /* bytes written to out */
  size_t nmembers; /* members noted, of all the open objects */
  int nkeys, depth, max_depth, array_mt, sparse_array_mt;
  const void *open[AR_ENCODE_MAX_DEPTH]; /* the tables being written, to find cycles */
  char why[128];
  char path[96]; /* the failing value's path, written backwards from path_at */
  size_t path_at;
  int path_full;
} ar_enc;

static void ar_enc_grow(ar_enc *e, ar_enc_area *a, size_t used, size_t need) {
  size_t cap = a->cap * 2;
  char *data;
  if (cap < used + need) cap = used + need;
  data = (char *)lua_newuserdata(e->L, cap);
  memcpy(data, a->data, used);
  lua_replace(e->L, a->slot);
  a->data = data;
  a->cap = cap;
}

static void ar_enc_reserve(ar_enc *e, size_t n) {
  if (e->out.cap - e->len < n) ar_enc_grow(e, &e->out, e->len, n);
}

static void ar_enc_add(ar_enc *e, const char *s, size_t n) {
  ar_enc_reserve(e, n);
  memcpy(e->out.data + e->len, s, n);
  e->len += n;
}

static void ar_enc_char(ar_enc *e, char c) {
  ar_enc_reserve(e, 1);
  e->out.data[e->len++] = c;
}

static int ar_enc_fail(ar_enc *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->why, sizeof e->why, fmt, ap);
  va_end(ap);
  return -1;
}

/* Puts s[0..n) in front of the path of the value that failed. */
static void ar_enc_prepend(ar_enc *e, const char *s, size_t n) {
  if (e->path_full) return;
  if (n + 3 > e->path_at) {
    e->path_at -= 3;
    memcpy(e->path + e->path_at, "...", 3);
    e->path_full = 1;
    return;
  }
  e->path_at -= n;
  memcpy(e->path + e->path_at, s, n);
}

static void ar_enc_at_index(ar_enc *e, size_t i) {
  char seg[32];
  int n = snprintf(seg, sizeof seg, "[%lu]", (unsigned long)i);
  ar_enc_prepend(e, seg, (size_t)n);
}

/* `.name` for a key that reads as a name, else `["..."]` with its printable ASCII. */
static void ar_enc_at_key(ar_enc *e, const ar_enc_member *m) {
  const char *k = m->key ? m->key : m->num;
  char seg[40];
  size_t i, n = 0;
  int name = m->key != NULL && m->klen > 0 && m->klen <= 32 && !(k[0] >= '0' && k[0] <= '9');
  for (i = 0; i < m->klen && name; i++) {
    unsigned char c = (unsigned char)k[i];
    name = c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  }
  if (name) {
    seg[n++] = '.';
    memcpy(seg + n, k, m->klen);
    n += m->klen;
  } else {
    seg[n++] = '[';
    seg[n++] = '"';
    for (i = 0; i < m->klen && i < AR_ENC_KEY_SHOWN; i++) seg[n++] = k[i] >= 0x20 && k[i] < 0x7f ? k[i] : '?';
    if (m->klen > AR_ENC_KEY_SHOWN) {
      memcpy(seg + n, "...", 3);
      n += 3;
    }
    seg[n++] = '"';
    seg[n++] = ']';
  }
  ar_enc_prepend(e, seg, n);
}

/* The decimal digits of v in buf (at least 21 bytes); returns their count. */
static size_t ar_enc_digits(char *buf, long long v) {
  char tmp[24];
  size_t n = 0, k = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u);
  if (v < 0) buf[k++] = '-';
  while (n) buf[k++] = tmp[--n];
  return k;
}

/* The shortest of 15, 16 or 17 significant digits that reads back as d (17 always does). */
static void ar_enc_double(ar_enc *e, double d) {
  char text[40];
  int prec, n = 0, i;
  for (prec = 15; prec <= 17; prec++) {
    n = snprintf(text, sizeof text, "%.*g", prec, d);
    if (prec == 17 || strtod(text, NULL) == d) break;
  }
  /* A C locale with another radix character (os.setlocale) must not leak into JSON. */
  for (i = 0; i < n; i++) {
    char c = text[i];
    if (!(c >= '0' && c <= '9') && c != '-' && c != '+' && c != 'e') text[i] = '.';
  }
  ar_enc_add(e, text, (size_t)n);
}

static int ar_enc_number(ar_enc *e, int idx) {
  char buf[24];
  lua_Number d;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(e->L, idx)) {
    ar_enc_add(e, buf, ar_enc_digits(buf, (long long)lua_tointeger(e->L, idx)));
    return 0;
  }
#endif
  d = lua_tonumber(e->L, idx);
  if (d != d) return ar_enc_fail(e, "NaN has no JSON text");
  if (d == HUGE_VAL || d == -HUGE_VAL) return ar_enc_fail(e, "%s has no JSON text", d > 0 ? "inf" : "-inf");
  if (d == floor(d) && d >= -AR_ENC_INT64_LIMIT && d < AR_ENC_INT64_LIMIT) {
    ar_enc_add(e, buf, ar_enc_digits(buf, (long long)d));
    return 0;
  }
  ar_enc_double(e, (double)d);
  return 0;
}

/* A quoted string: quote, backslash and control characters escaped (\b \f \n \r \t, else \u00XX),
 * UTF-8 checked and passed through. `what` names it in a message. */
static int ar_enc_string(ar_enc *e, const char *s, size_t len, const char *what) {
  static const char hex[] = "0123456789abcdef";
  static const char brief[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r' };
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  ar_enc_reserve(e, len + 2);
  e->out.data[e->len++] = '"';
  for (;;) {
    const unsigned char *q = ar_json_skip_plain(p, end);
    int n;
    if (q > p) ar_enc_add(e, (const char *)p, (size_t)(q - p));
    if (q >= end) break;
    switch (ar_json_strclass[*q]) {
      case 1:
      case 2:
        ar_enc_reserve(e, 2);
        e->out.data[e->len++] = '\\';
        e->out.data[e->len++] = (char)*q++;
        break;
      case 3: {
        char esc[6] = { '\\', brief[*q], '0', '0', hex[*q >> 4], hex[*q & 15] };
        if (!esc[1]) esc[1] = 'u';
        ar_enc_add(e, esc, brief[*q] ? 2 : 6);
        q++;
        break;
      }
      default:
        n = ar_json_utf8_len(q, end);
        if (n <= 0)
          return ar_enc_fail(
            e, "invalid UTF-8 at byte %lu of a %s", (unsigned long)(q - (const unsigned char *)s) + 1, what);
        ar_enc_add(e, (const char *)q, (size_t)n);
        q += n;
    }
    p = q;
  }
  ar_enc_char(e, '"');
  return 0;
}

static int ar_enc_value(ar_enc *e, int idx);

/* True when the number at idx is an integer (*k): Lua 5.3's subtype, or an integral double that is exact. */
static int ar_enc_integral(lua_State *L, int idx, long long *k) {
  lua_Number d;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) {
    *k = (long long)lua_tointeger(L, idx);
    return 1;
  }
#endif
  d = lua_tonumber(L, idx);
  if (d != floor(d) || fabs(d) > AR_ENC_EXACT) return 0;
  *k = (long long)d;
  return 1;
}

/* True when the key at idx is a positive integer (*k), an array index. */
static int ar_enc_index(lua_State *L, int idx, long long *k) {
  return ar_enc_integral(L, idx, k) && *k > 0;
}

/* 1 and *n when the table at idx is written as an array of n values, 0 for an
 * object, -1 when it cannot be written. Marked tables are arrays; others are
 * arrays when their keys are exactly 1..n with n > 0 (so {} is an object). */
static int ar_enc_shape(ar_enc *e, int idx, int marked, size_t *n) {
  lua_State *L = e->L;
  size_t count = 0;
  long long max = 0, k;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!ar_enc_index(L, -1, &k)) {
      int type = lua_type(L, -1);
      lua_pop(L, 1);
      if (marked) return ar_enc_fail(e, "an array holds a %s key", lua_typename(L, type));
      return 0;
    }
    count++;
    if (k > max) max = k;
  }
  if (!marked && (count == 0 || (unsigned long long)max != count)) return 0;
  if ((unsigned long long)max - count > count + AR_ENC_MAX_HOLES)
    return ar_enc_fail(e, "an array with %lld holes and %lu values", max - (long long)count, (unsigned long)count);
  *n = (size_t)max;
  return 1;
}

static int ar_enc_array(ar_enc *e, int idx, size_t n) {
  lua_State *L = e->L;
  size_t i;
  ar_enc_char(e, '[');
  for (i = 1; i <= n; i++) {
    if (i > 1) ar_enc_char(e, ',');
    lua_rawgeti(L, idx, (int)i);
    if (ar_enc_value(e, lua_gettop(L)) != 0) {
      lua_pop(L, 1);
      ar_enc_at_index(e, i);
      return -1;
    }
    lua_pop(L, 1);
  }
  ar_enc_char(e, ']');
  return 0;
}

static int ar_enc_rank(const ar_enc *e, const char *s, size_t len) {
  const ar_enc_ordered *k = (const ar_enc_ordered *)e->keys.data;
  int i;
  for (i = 0; i < e->nkeys; i++) {
    if (k[i].len == len && (k[i].s == s || memcmp(k[i].s, s, len) == 0)) return i;
  }
  return INT_MAX;
}

/* Notes the key at idx in *m and writes `"key":`; -1 for a key JSON cannot have. */
static int ar_enc_key(ar_enc *e, int idx, ar_enc_member *m) {
  lua_State *L = e->L;
  long long k;
  m->off = e->len;
  if (lua_type(L, idx) == LUA_TSTRING) {
    m->key = lua_tolstring(L, idx, &m->klen);
    m->rank = ar_enc_rank(e, m->key, m->klen);
    if (ar_enc_string(e, m->key, m->klen, "key") != 0) return -1;
  } else if (ar_enc_integral(L, idx, &k)) {
    m->key = NULL;
    m->klen = ar_enc_digits(m->num, k);
    m->rank = ar_enc_rank(e, m->num, m->klen);
    ar_enc_char(e, '"');
    ar_enc_add(e, m->num, m->klen);
    ar_enc_char(e, '"');
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    return ar_enc_fail(e, "a number key that is not an integer (%.17g)", (double)lua_tonumber(L, idx));
  } else {
    return ar_enc_fail(e, "a %s key", luaL_typename(L, idx));
  }
  ar_enc_char(e, ':');
  return 0;
}

static int ar_enc_compare(const ar_enc_member *a, const ar_enc_member *b) {
  const char *ka = a->key ? a->key : a->num, *kb = b->key ? b->key : b->num;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c;
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  c = memcmp(ka, kb, n);
  if (c) return c;
  return (a->klen > b->klen) - (a->klen < b->klen);
}

static int ar_enc_qsort_compare(const void *a, const void *b) {
  return ar_enc_compare((const ar_enc_member *)a, (const ar_enc_member *)b);
}

/* Records have a dozen or two members: insertion sort; qsort for big maps. */
static void ar_enc_sort(ar_enc_member *m, size_t n) {
  size_t i, j;
  if (n > AR_ENC_INSERTION_SORT) {
    qsort(m, n, sizeof *m, ar_enc_qsort_compare);
    return;
  }
  for (i = 1; i < n; i++) {
    ar_enc_member x = m[i];
    for (j = i; j > 0 && ar_enc_compare(&x, &m[j - 1]) < 0; j--) m[j] = m[j - 1];
    m[j] = x;
  }
}

/* Rewrites the members written from `start` in the order of m[0..n), comma-separated. */
static void ar_enc_reorder(ar_enc *e, size_t start, const ar_enc_member *m, size_t n) {
  size_t total = e->len - start, i, at = start;
  if (n < 2) return;
  if (e->scratch.cap < total) ar_enc_grow(e, &e->scratch, 0, total);
  memcpy(e->scratch.data, e->out.data + start, total);
  ar_enc_reserve(e, n - 1);
  for (i = 0; i < n; i++) {
    if (i) e->out.data[at++] = ',';
    memcpy(e->out.data + at, e->scratch.data + (m[i].off - start), m[i].len);
    at += m[i].len;
  }
  e->len = at;
}

static int ar_enc_object(ar_enc *e, int idx) {
  lua_State *L = e->L;
  size_t first = e->nmembers, start, n, i;
  int numeric = 0;
  ar_enc_member m, *sorted;
  ar_enc_char(e, '{');
  start = e->len;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t used = e->nmembers * sizeof m;
    if (ar_enc_key(e, -2, &m) != 0) {
      lua_pop(L, 2);
      e->nmembers = first;
      return -1;
    }
    if (ar_enc_value(e, lua_gettop(L)) != 0) {
      ar_enc_at_key(e, &m);
      lua_pop(L, 2);
      e->nmembers = first;
      return -1;
    }
    m.len = e->len - m.off;
    numeric |= m.key == NULL;
    if (e->members.cap - used < sizeof m) ar_enc_grow(e, &e->members, used, sizeof m);
    memcpy(e->members.data + used, &m, sizeof m);
    e->nmembers++;
    lua_pop(L, 1);
  }
  n = e->nmembers - first;
  sorted = (ar_enc_member *)(void *)e->members.data + first;
  ar_enc_sort(sorted, n);
  for (i = 1; numeric && i < n; i++) {
    if (ar_enc_compare(&sorted[i - 1], &sorted[i]) == 0) {
      ar_enc_at_key(e, &sorted[i]);
      e->nmembers = first;
      return ar_enc_fail(e, "a string key and an integer key are the same text");
    }
  }
  ar_enc_reorder(e, start, sorted, n);
  e->nmembers = first;
  ar_enc_char(e, '}');
  return 0;
}

static int ar_enc_table(ar_enc *e, int idx) {
  lua_State *L = e->L;
  const void *self = lua_topointer(L, idx);
  size_t n = 0;
  int i, marked = 0, shape;
  if (e->depth >= e->max_depth) return ar_enc_fail(e, "nested deeper than %d", e->max_depth);
  for (i = 0; i < e->depth; i++) {
    if (e->open[i] == self) return ar_enc_fail(e, "a table that contains itself");
  }
  if (!lua_checkstack(L, AR_ENC_SLOTS)) return ar_enc_fail(e, "nested too deeply for the Lua stack");
  if (lua_getmetatable(L, idx)) {
    marked = (e->array_mt && lua_rawequal(L, -1, e->array_mt)) ||
             (e->sparse_array_mt && lua_rawequal(L, -1, e->sparse_array_mt));
    lua_pop(L, 1);
  }
  shape = ar_enc_shape(e, idx, marked, &n);
  if (shape < 0) return -1;
  e->open[e->depth++] = self;
  shape = shape ? ar_enc_array(e, idx, n) : ar_enc_object(e, idx);
  e->depth--;
  return shape;
}

static int ar_enc_value(ar_enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return ar_enc_string(e, s, len, "string");
    }
    case LUA_TNUMBER: return ar_enc_number(e, idx);
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx))
        ar_enc_add(e, "true", 4);
      else
        ar_enc_add(e, "false", 5);
      return 0;
    case LUA_TTABLE: return ar_enc_table(e, idx);
    case LUA_TNIL: ar_enc_add(e, "null", 4); return 0;
    case LUA_TLIGHTUSERDATA: /* cjson.null, ngx.null */
      if (lua_touserdata(L, idx) == NULL) {
        ar_enc_add(e, "null", 4);
        return 0;
      }
      return ar_enc_fail(e, "a light userdata other than NULL has no JSON text");
    default: return ar_enc_fail(e, "a %s has no JSON text", luaL_typename(L, idx));
  }
}

static void ar_enc_area_init(ar_enc_area *a, void *local, size_t cap, int slot) {
  a->data = (char *)local;
  a->cap = cap;
  a->slot = slot;
}

static int ar_enc_absolute(int idx, int base) {
  return idx < 0 && idx > LUA_REGISTRYINDEX ? base + idx + 1 : idx;
}

/* Reads key_order into e->keys; 0, or -1 with a message when an item is not a string. */
static int ar_enc_load_keys(ar_enc *e, int key_order) {
  lua_State *L = e->L;
  size_t n = lua_rawlen(L, key_order), i;
  ar_enc_ordered *k;
  if (n > (size_t)INT_MAX / sizeof *k) n = (size_t)INT_MAX / sizeof *k;
  if (n * sizeof *k > e->keys.cap) ar_enc_grow(e, &e->keys, 0, n * sizeof *k);
  k = (ar_enc_ordered *)(void *)e->keys.data;
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, key_order, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      return ar_enc_fail(e, "key_order[%lu] is not a string", (unsigned long)i + 1);
    }
    /* The string stays alive in key_order, which the caller keeps on the stack. */
    k[i].s = lua_tolstring(L, -1, &k[i].len);
    lua_pop(L, 1);
  }
  e->nkeys = (int)n;
  return 0;
}

int ar_encode(lua_State *L, int value, const ar_encode_options *opts, char message[AR_ENCODE_MESSAGE_SIZE]) {
  ar_enc e;
  char out[AR_ENC_LOCAL_BYTES], scratch[AR_ENC_LOCAL_BYTES];
  ar_enc_member members[AR_ENC_LOCAL_MEMBERS];
  ar_enc_ordered keys[AR_ENC_LOCAL_KEYS];
  int base = lua_gettop(L), rc = 0, i;
  value = ar_enc_absolute(value, base);
  e.L = L;
  e.len = e.nmembers = 0;
  e.nkeys = e.depth = 0;
  e.max_depth = opts->max_depth < 1 ? 1 : opts->max_depth > AR_ENCODE_MAX_DEPTH ? AR_ENCODE_MAX_DEPTH : opts->max_depth;
  e.array_mt = ar_enc_absolute(opts->array_mt, base);
  e.sparse_array_mt = ar_enc_absolute(opts->sparse_array_mt, base);
  e.path_at = sizeof e.path - 1;
  e.path[e.path_at] = '\0';
  e.path_full = 0;
  e.why[0] = '\0';
  if (!lua_checkstack(L, 4 + AR_ENC_SLOTS)) {
    snprintf(message, AR_ENCODE_MESSAGE_SIZE, "Lua stack exhausted");
    return 0;
  }
  for (i = 1; i <= 4; i++) lua_pushnil(L);
  ar_enc_area_init(&e.out, out, sizeof out, base + 1);
  ar_enc_area_init(&e.scratch, scratch, sizeof scratch, base + 2);
  ar_enc_area_init(&e.members, members, sizeof members, base + 3);
  ar_enc_area_init(&e.keys, keys, sizeof keys, base + 4);
  if (opts->key_order && ar_enc_load_keys(&e, ar_enc_absolute(opts->key_order, base)) != 0) {
    rc = -1;
  } else if (ar_enc_value(&e, value) == 0) {
    lua_pushlstring(L, e.out.data, e.len);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return 1;
  }
  if (e.path[e.path_at] == '\0')
    snprintf(message, AR_ENCODE_MESSAGE_SIZE, "%s", e.why);
  else
    snprintf(message, AR_ENCODE_MESSAGE_SIZE, "%s at %s", e.why, e.path + e.path_at + (e.path[e.path_at] == '.'));
  lua_settop(L, base);
  return rc;
}
