/* Sans-IO JSON decoder: bytes in, one Lua value out (RFC 8259, strict). */
#ifndef AR_JSON_H
#define AR_JSON_H

/* The registry names of the array marker metatables (core.array_mt, core.sparse_array_mt). */
#define AR_JSON_ARRAY_MT "atlasrestore.json.array"
#define AR_JSON_SPARSE_ARRAY_MT "atlasrestore.json.sparse_array"

#include <stddef.h>
#include "lua.h"

typedef struct ar_json_error {
  size_t offset;    /* 0-based byte offset in the input where decoding failed */
  char message[96]; /* NUL-terminated, without the offset */
} ar_json_error;

/* Metatables that mark decoded arrays, so callers can tell [] from {} and
 * arrays from objects without scanning keys. Each is a stack index (or a
 * pseudo-index such as an upvalue) of a table, or 0 for none. */
typedef struct ar_json_options {
  int max_depth;       /* nesting of arrays + objects */
  int array_mt;        /* metatable of every decoded array */
  int sparse_array_mt; /* instead, for arrays that held a null (a hole) */
  /* A set {name = true} at this index, or 0. On Luas without an integer subtype, a number
   * stored under one of these keys whose text is not an integer (1.5, 1e-400,
   * 1199145600.0000000000000000001) is given as that text, a string, so that a check for an
   * integer refuses it there as Lua 5.3+ refuses the float it decodes to. Ignored on 5.3+. */
  int integer_keys;
} ar_json_options;

/* Decodes one JSON text from json[0..len). On success pushes exactly one Lua value and returns 1.
   On failure returns 0, leaves the Lua stack exactly as it was, and fills *err (offset = byte offset where it failed).
   Malformed input never raises a Lua error; only running out of memory while building values can. */
int ar_json_decode(lua_State *L, const char *json, size_t len, const ar_json_options *opts, ar_json_error *err);

#endif
