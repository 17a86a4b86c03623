/* Sans-IO JSON decoder (RFC 8259, strict) that builds Lua values in a single pass.
 *
 * Design notes:
 * - Iterative, not recursive: nesting depth is bounded by max_depth and by
 *   lua_checkstack, never by the C stack. Open containers live on the Lua
 *   stack; their bookkeeping lives in a small frame array (on the C stack for
 *   shallow documents, in a Lua userdata anchored on the Lua stack beyond that).
 * - No C heap memory and no mutable statics: a Lua error (out of memory) can
 *   unwind through here without leaking, and the code is reentrant.
 * - Strings without escapes are pushed straight from the input; escaped ones
 *   are rebuilt in a luaL_Buffer (nothing else is pushed while it is open).
 */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "json.h"
#include "jsonchars.h"

/* Frames kept on the C stack; deeper documents spill into a userdata. */
#define AR_JSON_LOCAL_FRAMES 64
/* Size hints taken from the previous sibling are capped so that one large
 * container cannot make every later sibling over-allocate a lot. */
#define AR_JSON_MAX_HINT 1024
/* Exponents beyond this are clamped while parsing: no int overflow, and the
 * value is far outside double range (or exactly 0) anyway. */
#define AR_JSON_EXP_CLAMP 100000000LL
/* Significant digits passed to strtod; 768 suffice to round any decimal
 * correctly to a double when a sticky digit stands for the rest. */
#define AR_JSON_MAX_SIG 800
/* Object keys remembered per decode (a power of two): the keys of a page of
 * same-shaped records are interned once, then pushed from the cache. */
#define AR_JSON_KEY_CACHE 128
/* A key's last value is reused while that pays: each repeat scores one (up to
 * TRUST), each change loses one, and at GIVE_UP the key's values are no longer
 * compared (ids and times differ from job to job; a project id, a delivery
 * type in a run of the same, "self" in links, repeat). */
#define AR_JSON_VALUE_TRUST 8
#define AR_JSON_VALUE_GIVE_UP (-4)
/* Lua stack slots needed per nesting level: table, key, and a value that may
 * briefly take two slots (luaL_Buffer placeholder + result). */
#define AR_JSON_SLOTS 4

typedef struct ar_json_frame {
  size_t n; /* keys stored (object) or elements seen (array) */
  int is_object;
  int has_null; /* an array with a hole gets the sparse metatable */
  int obj_hint; /* sizes of the last object/array closed at this depth: */
  int arr_hint; /* pages of API results are arrays of same-shaped items */
} ar_json_frame;

/* The key cache: slot i holds a key, kept alive at index i + 1 of a Lua
 * table on the stack (created at the first key), and its bytes here, so that
 * a hit costs a memcmp and one rawgeti instead of hashing and interning the
 * key again. A hit compares the bytes, so a collision only costs a miss.
 * String values are cached per key, while their key's values repeat. */
typedef struct ar_json_keys {
  int table; /* stack index of the table, nil until the first key */
  int last;  /* the slot of the key just read, or -1 (an empty or escaped key) */
  const char *bytes[AR_JSON_KEY_CACHE];
  size_t len[AR_JSON_KEY_CACHE];
  /* Per key slot, the string value last read under that key (kept alive at
   * index AR_JSON_KEY_CACHE + slot + 1 of the table), and its score. */
  const char *value[AR_JSON_KEY_CACHE];
  size_t value_len[AR_JSON_KEY_CACHE];
  signed char score[AR_JSON_KEY_CACHE];
} ar_json_keys;

/* Powers of ten that are exact in a double. */
static const double ar_json_pow10[23] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
  1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static const unsigned char *ar_json_fail(
  ar_json_error *err, const unsigned char *start, const unsigned char *at, const char *msg) {
  size_t n = strlen(msg);
  if (n >= sizeof err->message) n = sizeof err->message - 1;
  memcpy(err->message, msg, n);
  err->message[n] = '\0';
  err->offset = (size_t)(at - start);
  return NULL;
}

static const unsigned char *ar_json_fail_eof(ar_json_error *err, const unsigned char *start, const unsigned char *end) {
  return ar_json_fail(err, start, end, "unexpected end of input");
}

static const unsigned char *ar_json_fail_char(
  ar_json_error *err, const unsigned char *start, const unsigned char *at, const char *what) {
  if (*at >= 0x20 && *at < 0x7f)
    snprintf(err->message, sizeof err->message, "unexpected character '%c'%s", *at, what);
  else
    snprintf(err->message, sizeof err->message, "unexpected byte 0x%02X%s", (unsigned)*at, what);
  err->offset = (size_t)(at - start);
  return NULL;
}

static int ar_json_is_ws(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const unsigned char *ar_json_skip_ws_slow(const unsigned char *p, const unsigned char *end) {
  while (p < end && *p <= ' ' && ar_json_is_ws(*p)) p++;
  return p;
}

/* Compact JSON (what APIs send) has no whitespace: one test, inline, for that. */
static inline const unsigned char *ar_json_skip_ws(const unsigned char *p, const unsigned char *end) {
  if (p<end && * p> ' ') return p;
  return ar_json_skip_ws_slow(p, end);
}

static int ar_json_is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static long ar_json_hex4(const unsigned char *q) {
  long v = 0;
  int i;

  for (i = 0; i < 4; i++) {
    unsigned char c = q[i];
    if (c >= '0' && c <= '9')
      v = v * 16 + (c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      v = v * 16 + ((c | 0x20) - 'a' + 10);
    else
      return -1;
  }
  return v;
}

/* True if q[0..end) could still grow into "\uXXXX" (input cut short). */
static int ar_json_is_u_prefix(const unsigned char *q, const unsigned char *end) {
  static const char pat[] = "\\uxxxx";
  int i;

  for (i = 0; q + i < end && i < 6; i++) {
    if (pat[i] == 'x') {
      if (!ar_json_is_digit(q[i]) && !((q[i] | 0x20) >= 'a' && (q[i] | 0x20) <= 'f')) return 0;
    } else if (q[i] != (unsigned char)pat[i]) {
      return 0;
    }
  }
  return 1;
}

static int ar_json_encode_utf8(char *out, unsigned long cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Handles a string that contains escapes. s is the first content byte, q the
 * first backslash; everything in [s, q) is already validated. */
static const unsigned char *ar_json_string_slow(lua_State *L, const unsigned char *start, const unsigned char *s,
  const unsigned char *q, const unsigned char *end, ar_json_error *err) {
  luaL_Buffer b;

  /* Lua 5.1's luaL_Buffer keeps partial strings on the stack. */
  if (!lua_checkstack(L, LUA_MINSTACK)) return ar_json_fail(err, start, q, "Lua stack exhausted");
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, (const char *)s, (size_t)(q - s));
  for (;;) {
    const unsigned char *run = q;
    char u8[4];
    unsigned long cp;
    int n;

    for (;;) {
      q = ar_json_skip_plain(q, end);
      if (q < end && ar_json_strclass[*q] == 4) {
        n = ar_json_utf8_len(q, end);
        if (n < 0) return ar_json_fail_eof(err, start, end);
        if (n == 0) return ar_json_fail(err, start, q, "invalid UTF-8 in string");
        q += n;
        continue;
      }
      break;
    }
    if (q > run) luaL_addlstring(&b, (const char *)run, (size_t)(q - run));
    if (q >= end) return ar_json_fail_eof(err, start, end);
    if (*q == '"') {
      luaL_pushresult(&b);
      return q + 1;
    }
    if (*q != '\\') return ar_json_fail(err, start, q, "control character in string");
    if (q + 1 >= end) return ar_json_fail_eof(err, start, end);
    switch (q[1]) {
      case '"':
        luaL_addchar(&b, '"');
        q += 2;
        continue;
      case '\\':
        luaL_addchar(&b, '\\');
        q += 2;
        continue;
      case '/':
        luaL_addchar(&b, '/');
        q += 2;
        continue;
      case 'b':
        luaL_addchar(&b, '\b');
        q += 2;
        continue;
      case 'f':
        luaL_addchar(&b, '\f');
        q += 2;
        continue;
      case 'n':
        luaL_addchar(&b, '\n');
        q += 2;
        continue;
      case 'r':
        luaL_addchar(&b, '\r');
        q += 2;
        continue;
      case 't':
        luaL_addchar(&b, '\t');
        q += 2;
        continue;
      case 'u': break;
      default: return ar_json_fail(err, start, q, "invalid escape in string");
    }
    if (end - q < 6) {
      if (ar_json_is_u_prefix(q, end)) return ar_json_fail_eof(err, start, end);
      return ar_json_fail(err, start, q, "invalid \\u escape");
    }
    {
      long v = ar_json_hex4(q + 2);
      if (v < 0) return ar_json_fail(err, start, q, "invalid \\u escape");
      cp = (unsigned long)v;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) return ar_json_fail(err, start, q, "lone surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      long lo;
      if (end - q < 12) {
        if (q + 6 == end || ar_json_is_u_prefix(q + 6, end)) return ar_json_fail_eof(err, start, end);
        return ar_json_fail(err, start, q, "lone surrogate in \\u escape");
      }
      lo = (q[6] == '\\' && q[7] == 'u') ? ar_json_hex4(q + 8) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF) return ar_json_fail(err, start, q, "lone surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
      q += 12;
    } else {
      q += 6;
    }
    n = ar_json_encode_utf8(u8, cp);
    luaL_addlstring(&b, u8, (size_t)n);
  }
}

/* Pushes the key s[0..len), from the cache when it holds these bytes. */
static void ar_json_push_key(lua_State *L, ar_json_keys *keys, const unsigned char *s, size_t len) {
  size_t slot;
  if (len == 0) {
    keys->last = -1;
    lua_pushliteral(L, "");
    return;
  }
  slot = (len * 31 + (size_t)s[0] * 7 + s[len - 1]) & (AR_JSON_KEY_CACHE - 1);
  keys->last = (int)slot;
  if (keys->len[slot] == len && memcmp(keys->bytes[slot], s, len) == 0) {
    lua_rawgeti(L, keys->table, (lua_Integer)slot + 1);
    return;
  }
  if (lua_isnil(L, keys->table)) {
    lua_createtable(L, 2 * AR_JSON_KEY_CACHE, 0);
    lua_replace(L, keys->table);
  }
  lua_pushlstring(L, (const char *)s, len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, keys->table, (lua_Integer)slot + 1);
  keys->bytes[slot] = lua_tostring(L, -1);
  keys->len[slot] = len;
  keys->value[slot] = NULL;
  keys->score[slot] = 0;
}

/* Pushes the value s[0..len) read under the key in keys->last (-1: none), from
 * the cache when that key's last value had these bytes. */
static void ar_json_push_value(lua_State *L, ar_json_keys *keys, const unsigned char *s, size_t len) {
  int slot = keys->last;
  lua_Integer at;
  if (slot < 0 || keys->score[slot] <= AR_JSON_VALUE_GIVE_UP) {
    lua_pushlstring(L, (const char *)s, len);
    return;
  }
  at = (lua_Integer)(AR_JSON_KEY_CACHE + slot + 1);
  if (keys->value[slot] && keys->value_len[slot] == len && memcmp(keys->value[slot], s, len) == 0) {
    if (keys->score[slot] < AR_JSON_VALUE_TRUST) keys->score[slot]++;
    lua_rawgeti(L, keys->table, at);
    return;
  }
  keys->score[slot]--;
  lua_pushlstring(L, (const char *)s, len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, keys->table, at);
  keys->value[slot] = lua_tostring(L, -1);
  keys->value_len[slot] = len;
}

/* p points at the opening quote. Pushes the string (through `keys` unless it
 * has escapes: a key if is_key, else a value of the key just read; keys NULL:
 * an array's element), returns the byte after the closing quote (NULL on
 * error, nothing pushed that the caller must keep). */
static const unsigned char *ar_json_string(lua_State *L, const unsigned char *start, const unsigned char *p,
  const unsigned char *end, ar_json_keys *keys, int is_key, ar_json_error *err) {
  const unsigned char *s = p + 1, *q = s;

  for (;;) {
    int n;
    q = ar_json_skip_plain(q, end);
    if (q >= end) return ar_json_fail_eof(err, start, end);
    switch (ar_json_strclass[*q]) {
      case 1:
        if (!keys)
          lua_pushlstring(L, (const char *)s, (size_t)(q - s));
        else if (is_key)
          ar_json_push_key(L, keys, s, (size_t)(q - s));
        else
          ar_json_push_value(L, keys, s, (size_t)(q - s));
        return q + 1;
      case 2:
        if (keys && is_key) keys->last = -1;
        return ar_json_string_slow(L, start, s, q, end, err);
      case 3: return ar_json_fail(err, start, q, "control character in string");
      default:
        n = ar_json_utf8_len(q, end);
        if (n < 0) return ar_json_fail_eof(err, start, end);
        if (n == 0) return ar_json_fail(err, start, q, "invalid UTF-8 in string");
        q += n;
    }
  }
}

static void ar_json_push_zero(lua_State *L) {
#if LUA_VERSION_NUM >= 503
  lua_pushinteger(L, 0);
#else
  lua_pushnumber(L, 0);
#endif
}

/* Pushes +/- D * 10^exp where D is the digit string int ++ frac, exactly
 * classified: a mathematical integer that fits lua_Integer becomes an integer
 * (Lua 5.3+), anything else the correctly rounded double; *integral says
 * whether it is a mathematical integer. Returns 0, or -1 (nothing pushed)
 * when no double can hold it. */
static int ar_json_push_decimal(lua_State *L, int neg, const unsigned char *ip, size_t intlen, const unsigned char *fp,
  size_t fraclen, long long exp, int *integral) {
  size_t n = intlen + fraclen, s, t, i, k;
  long long lowexp, e;
  char buf[AR_JSON_MAX_SIG + 32];
  int pos = 0, m;
  char ebuf[24];
  double value;

#define AR_JSON_DIGIT(i) ((i) < intlen ? ip[(i)] : fp[(i)-intlen])
  for (s = 0; s < n && AR_JSON_DIGIT(s) == '0'; s++)
    ;
  if (s == n) {
    /* Zero in any notation, including -0 and 0e999999999. */
    ar_json_push_zero(L);
    return 0;
  }
  for (t = n; AR_JSON_DIGIT(t - 1) == '0'; t--)
    ;
  k = t - s;
  /* Value = digits[s..t) * 10^lowexp. */
  lowexp = (long long)intlen - (long long)t + exp;
  *integral = lowexp >= 0;

#if LUA_VERSION_NUM >= 503
  /* Integer digit count = k + lowexp; at most 19 keeps u below 10^19 < 2^64. */
  if (lowexp >= 0 && (long long)k + lowexp <= 19) {
    unsigned long long u = 0;
    for (i = s; i < t; i++) u = u * 10 + (unsigned)(AR_JSON_DIGIT(i) - '0');
    for (e = 0; e < lowexp; e++) u *= 10;
    if (u <= (unsigned long long)LUA_MAXINTEGER + (unsigned)neg) {
      if (neg)
        lua_pushinteger(L, -(lua_Integer)(u - 1) - 1);
      else
        lua_pushinteger(L, (lua_Integer)u);
      return 0;
    }
  }
#endif

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
  /* Exact operands and one IEEE operation give a correctly rounded result. */
  if (k <= 15 && lowexp >= -22 && lowexp <= 22) {
    unsigned long long u = 0;
    double d;
    for (i = s; i < t; i++) u = u * 10 + (unsigned)(AR_JSON_DIGIT(i) - '0');
    d = (double)u;
    d = lowexp >= 0 ? d * ar_json_pow10[lowexp] : d / ar_json_pow10[-lowexp];
    lua_pushnumber(L, (lua_Number)(neg ? -d : d));
    return 0;
  }
#endif

  /* General case: strtod on a canonical "[-]DIGITSeEXP" copy. Having no
   * decimal point makes it independent of the C locale's radix character. */
  if (neg) buf[pos++] = '-';
  if (k <= AR_JSON_MAX_SIG) {
    for (i = s; i < t; i++) buf[pos++] = (char)AR_JSON_DIGIT(i);
    e = lowexp;
  } else {
    for (i = s; i < s + AR_JSON_MAX_SIG; i++) buf[pos++] = (char)AR_JSON_DIGIT(i);
    buf[pos++] = '1'; /* sticky: the dropped tail is nonzero */
    e = lowexp + (long long)(k - 1 - AR_JSON_MAX_SIG);
  }
#undef AR_JSON_DIGIT
  /* Beyond +/-99999 the result is inf or 0 either way. */
  if (e > 99999)
    e = 99999;
  else if (e < -99999)
    e = -99999;
  buf[pos++] = 'e';
  if (e < 0) {
    buf[pos++] = '-';
    e = -e;
  }
  m = 0;
  do {
    ebuf[m++] = (char)('0' + (int)(e % 10));
    e /= 10;
  } while (e > 0);
  while (m > 0) buf[pos++] = ebuf[--m];
  buf[pos] = '\0';
  value = strtod(buf, NULL);
  /* Only this path can overflow; JSON has no infinity, so the number is refused. */
  if (value == HUGE_VAL || value == -HUGE_VAL) return -1;
  lua_pushnumber(L, (lua_Number)value);
  return 0;
}

/* p points at '-' or a digit. Pushes the number, returns the byte after it;
 * *integral: whether the text is a mathematical integer (1e3 and 1.0 are, 1e-400 is not). */
static const unsigned char *ar_json_number(lua_State *L, const unsigned char *start, const unsigned char *p,
  const unsigned char *end, ar_json_error *err, int *integral) {
  const unsigned char *ip, *fp = NULL;
  size_t intlen, fraclen = 0;
  long long exp = 0;
  int neg = 0;

  *integral = 1;
  if (*p == '-') {
    neg = 1;
    p++;
    if (p >= end) return ar_json_fail_eof(err, start, end);
  }
  ip = p;
  if (*p == '0') {
    p++;
    if (p < end && ar_json_is_digit(*p)) return ar_json_fail(err, start, p - 1, "invalid number (leading zero)");
  } else if (*p >= '1' && *p <= '9') {
    do p++;
    while (p < end && ar_json_is_digit(*p));
  } else {
    return ar_json_fail(err, start, p, "invalid number");
  }
  intlen = (size_t)(p - ip);

  if (p < end && *p == '.') {
    p++;
    fp = p;
    while (p < end && ar_json_is_digit(*p)) p++;
    fraclen = (size_t)(p - fp);
    if (fraclen == 0)
      return p >= end ? ar_json_fail_eof(err, start, end) : ar_json_fail(err, start, p, "invalid number");
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    int eneg = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    if (p >= end) return ar_json_fail_eof(err, start, end);
    if (!ar_json_is_digit(*p)) return ar_json_fail(err, start, p, "invalid number");
    do {
      if (exp < AR_JSON_EXP_CLAMP) exp = exp * 10 + (*p - '0');
      p++;
    } while (p < end && ar_json_is_digit(*p));
    if (eneg) exp = -exp;
  }

  if (fraclen == 0 && exp == 0 && intlen <= 18) {
    /* Plain integer literal: the common case, exact in 64 bits. */
    unsigned long long u = 0;
    const unsigned char *q;
    for (q = ip; q < ip + intlen; q++) u = u * 10 + (unsigned)(*q - '0');
#if LUA_VERSION_NUM >= 503
    if (u <= (unsigned long long)LUA_MAXINTEGER) {
      lua_pushinteger(L, neg ? -(lua_Integer)u : (lua_Integer)u);
      return p;
    }
#else
    lua_pushnumber(L, neg && u ? -(lua_Number)u : (lua_Number)u);
    return p;
#endif
  }
  if (ar_json_push_decimal(L, neg, ip, intlen, fp, fraclen, exp, integral) != 0)
    return ar_json_fail(err, start, p, "number out of range");
  return p;
}

/* True when the key below the value on top is in the integer_keys set at index `keys`. */
static int ar_json_integer_key(lua_State *L, int keys) {
  int found;
  lua_pushvalue(L, -2);
  lua_rawget(L, keys);
  found = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return found;
}

/* Literal true/false/null at p; 1 if matched, 0 on error (err filled). */
static int ar_json_literal(const unsigned char *start, const unsigned char *p, const unsigned char *end,
  const char *word, size_t wlen, ar_json_error *err) {
  size_t avail = (size_t)(end - p);

  if (avail >= wlen && memcmp(p, word, wlen) == 0) return 1;
  if (avail < wlen && memcmp(p, word, avail) == 0)
    ar_json_fail_eof(err, start, end);
  else
    ar_json_fail(err, start, p, "invalid literal");
  return 0;
}

/* Makes room for frame index `depth`, moving the frames into a (bigger)
 * userdata anchored at stack slot base+1 when the local array is full. */
static ar_json_frame *ar_json_grow(
  lua_State *L, int base, ar_json_frame *frames, int *cap, int max_depth, int *anchored) {
  int ncap = *cap > max_depth / 2 ? max_depth : *cap * 2;
  ar_json_frame *nf;

  if (!lua_checkstack(L, 2)) return NULL;
  nf = (ar_json_frame *)lua_newuserdata(L, (size_t)ncap * sizeof *nf);
  memcpy(nf, frames, (size_t)*cap * sizeof *nf);
  if (*anchored)
    lua_replace(L, base + 1);
  else
    lua_insert(L, base + 1);
  *anchored = 1;
  *cap = ncap;
  return nf;
}

/* Grammar driver. The stack above `base` holds, per open container, the table
 * and (inside objects) the pending key; a completed value sits on top until it
 * is stored into its parent.
 *
 * Semantics beyond RFC 8259 that callers rely on:
 * - null: as an object member the key is left absent; at top level it pushes
 *   nil. Inside an array the slot stays nil but later elements keep their
 *   positions, so such an array has a hole (`#` is then unreliable; arrays
 *   holding null are rare in the APIs this serves).
 * - Duplicate keys: the last one wins (a later null removes an earlier value).
 * - With array_mt, each array gets that metatable when it closes (the sparse
 *   one if it held a null, so a caller can refuse holes); objects and
 *   scalars are never given one.
 */
int ar_json_decode(lua_State *L, const char *json, size_t len, const ar_json_options *opts, ar_json_error *err) {
  int max_depth = opts->max_depth, array_mt = opts->array_mt, sparse_array_mt = opts->sparse_array_mt;
  /* With an integer subtype the number's type already tells integers apart. */
  int integer_keys = LUA_VERSION_NUM >= 503 ? 0 : opts->integer_keys;
  const unsigned char *start, *end, *p;
  ar_json_frame local[AR_JSON_LOCAL_FRAMES];
  ar_json_frame *frames = local, *f;
  int cap = AR_JSON_LOCAL_FRAMES, depth = 0, hiwater = 0, anchored = 0, isnull = 0;
  int top = lua_gettop(L), base = top;
  ar_json_keys keys;

  if (json == NULL) {
    /* Keeps the pointer arithmetic below defined for (NULL, 0). */
    if (len > 0) {
      err->offset = 0;
      memcpy(err->message, "no input", sizeof "no input");
      return 0;
    }
    json = "";
  }
  /* Relative indices would drift as values are pushed. */
  if (array_mt < 0 && array_mt > LUA_REGISTRYINDEX) array_mt = base + array_mt + 1;
  if (sparse_array_mt < 0 && sparse_array_mt > LUA_REGISTRYINDEX) sparse_array_mt = base + sparse_array_mt + 1;
  if (sparse_array_mt == 0) sparse_array_mt = array_mt;
  if (integer_keys < 0 && integer_keys > LUA_REGISTRYINDEX) integer_keys = base + integer_keys + 1;
  start = (const unsigned char *)json;
  end = start + len;
  p = start;
  if (max_depth < 0) max_depth = 0;
  if (!lua_checkstack(L, AR_JSON_SLOTS + 1)) {
    ar_json_fail(err, start, start, "Lua stack exhausted");
    return 0;
  }
  /* The key cache's slot; the frames' userdata, if any, goes above it. */
  lua_pushnil(L);
  keys.table = ++base;
  keys.last = -1;
  memset(keys.len, 0, sizeof keys.len);

value:
  p = ar_json_skip_ws(p, end);
  if (p >= end) {
    ar_json_fail_eof(err, start, end);
    goto fail;
  }
  switch (*p) {
    case '{':
    case '[':
      if (depth >= max_depth) {
        ar_json_fail(err, start, p, "too deeply nested");
        goto fail;
      }
      if (!lua_checkstack(L, AR_JSON_SLOTS)) {
        ar_json_fail(err, start, p, "too deeply nested (Lua stack exhausted)");
        goto fail;
      }
      if (depth >= cap) {
        frames = ar_json_grow(L, base, frames, &cap, max_depth, &anchored);
        if (frames == NULL) {
          ar_json_fail(err, start, p, "too deeply nested (Lua stack exhausted)");
          goto fail;
        }
      }
      f = &frames[depth];
      if (depth == hiwater) {
        f->obj_hint = 0;
        f->arr_hint = 0;
        hiwater++;
      }
      f->n = 0;
      f->has_null = 0;
      depth++;
      if (*p == '{') {
        f->is_object = 1;
        lua_createtable(L, 0, f->obj_hint);
        p = ar_json_skip_ws(p + 1, end);
        if (p >= end) {
          ar_json_fail_eof(err, start, end);
          goto fail;
        }
        if (*p == '}') {
          p++;
          goto closed;
        }
        if (*p != '"') {
          ar_json_fail_char(err, start, p, ", expected string key or '}'");
          goto fail;
        }
        goto key;
      }
      f->is_object = 0;
      lua_createtable(L, f->arr_hint, 0);
      p = ar_json_skip_ws(p + 1, end);
      if (p < end && *p == ']') {
        p++;
        goto closed;
      }
      goto value;
    case '"':
      p = ar_json_string(L, start, p, end, depth > 0 && frames[depth - 1].is_object ? &keys : NULL, 0, err);
      if (p == NULL) goto fail;
      break;
    case 't':
      if (!ar_json_literal(start, p, end, "true", 4, err)) goto fail;
      lua_pushboolean(L, 1);
      p += 4;
      break;
    case 'f':
      if (!ar_json_literal(start, p, end, "false", 5, err)) goto fail;
      lua_pushboolean(L, 0);
      p += 5;
      break;
    case 'n':
      if (!ar_json_literal(start, p, end, "null", 4, err)) goto fail;
      isnull = 1;
      p += 4;
      break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': {
      const unsigned char *text = p;
      int integral;
      p = ar_json_number(L, start, p, end, err, &integral);
      if (p == NULL) goto fail;
      if (!integral && integer_keys && depth > 0 && frames[depth - 1].is_object &&
          ar_json_integer_key(L, integer_keys)) {
        /* Without an integer subtype the double may be integral (1e-400 is 0): the text keeps it apart. */
        lua_pop(L, 1);
        lua_pushlstring(L, (const char *)text, (size_t)(p - text));
      }
      break;
    }
    default: ar_json_fail_char(err, start, p, ""); goto fail;
  }
  goto done;

closed:
  /* The container just closed is the value on top; remember its size as the
   * hint for its next sibling at the same depth. */
  f = &frames[--depth];
  if (f->is_object) {
    f->obj_hint = f->n > AR_JSON_MAX_HINT ? AR_JSON_MAX_HINT : (int)f->n;
  } else {
    f->arr_hint = f->n > AR_JSON_MAX_HINT ? AR_JSON_MAX_HINT : (int)f->n;
    if (f->has_null ? sparse_array_mt : array_mt) {
      lua_pushvalue(L, f->has_null ? sparse_array_mt : array_mt);
      lua_setmetatable(L, -2);
    }
  }

done:
  if (depth == 0) goto finish;
  f = &frames[depth - 1];
  if (f->is_object) {
    if (isnull) lua_pushnil(L);
    lua_rawset(L, -3);
  } else if (!isnull) {
    lua_rawseti(L, -2, (lua_Integer)(f->n + 1));
  } else {
    f->has_null = 1;
  }
  f->n++;
  isnull = 0;
  p = ar_json_skip_ws(p, end);
  if (p >= end) {
    ar_json_fail_eof(err, start, end);
    goto fail;
  }
  if (*p == ',') {
    p++;
    if (!f->is_object) goto value;
    p = ar_json_skip_ws(p, end);
    if (p >= end) {
      ar_json_fail_eof(err, start, end);
      goto fail;
    }
    if (*p != '"') {
      ar_json_fail_char(err, start, p, ", expected string key");
      goto fail;
    }
    goto key;
  }
  if (*p == (f->is_object ? '}' : ']')) {
    p++;
    goto closed;
  }
  ar_json_fail_char(err, start, p, f->is_object ? ", expected ',' or '}'" : ", expected ',' or ']'");
  goto fail;

key:
  p = ar_json_string(L, start, p, end, &keys, 1, err);
  if (p == NULL) goto fail;
  p = ar_json_skip_ws(p, end);
  if (p >= end) {
    ar_json_fail_eof(err, start, end);
    goto fail;
  }
  if (*p != ':') {
    ar_json_fail_char(err, start, p, ", expected ':'");
    goto fail;
  }
  p++;
  goto value;

finish:
  p = ar_json_skip_ws(p, end);
  if (p < end) {
    ar_json_fail_char(err, start, p, " after the JSON value");
    goto fail;
  }
  if (isnull) lua_pushnil(L);
  if (anchored) lua_remove(L, base + 1);
  lua_remove(L, keys.table);
  return 1;

fail:
  lua_settop(L, top);
  return 0;
}
