/* Sans-IO JSON encoder: one Lua value in, its RFC 8259 text out, the same bytes for the same data. */
#ifndef AR_ENCODE_H
#define AR_ENCODE_H

#include "lua.h"

/* Longest message of a refused value, its path included. */
#define AR_ENCODE_MESSAGE_SIZE 192

typedef struct ar_encode_options {
  int max_depth;       /* nesting of tables, 1..AR_ENCODE_MAX_DEPTH */
  int array_mt;        /* stack or pseudo-index of the array marker metatable */
  int sparse_array_mt; /* and of the sparse one (an array that held a null) */
  int key_order;       /* stack index of an array of strings (keys first, in that order), or 0 */
} ar_encode_options;

#define AR_ENCODE_MAX_DEPTH 1000

/* Encodes the value at stack index `value`. On success pushes the text and returns 1; on a value that has no JSON
   text (NaN, a function, a cycle, invalid UTF-8...) returns 0, leaves the stack as it was and fills message[].
   No C heap memory is held: a Lua error (out of memory) can unwind through it without a leak. */
int ar_encode(lua_State *L, int value, const ar_encode_options *opts, char message[AR_ENCODE_MESSAGE_SIZE]);

#endif
