/* libFuzzer harness for ar_encode: each input is decoded (ar_json_decode), and
 * whatever the decoder builds must encode. Invariants beyond "no sanitizer report":
 * - every decoded value encodes (the decoder never builds what JSON cannot hold);
 * - the text decodes again, and encodes to the same bytes (one text per value);
 * - success pushes exactly one string, failure nothing, and the slots below stay.
 * Build: see spec/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "encode.h"
#include "json.h"

#define FUZZ_MAX_DEPTH 64
#define FUZZ_GC_EVERY 1000
/* Stack slots below the harness's work: the array marker and the sparse one. */
#define FUZZ_ARRAY_MT 1
#define FUZZ_SPARSE_MT 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fuzz_L;
static unsigned long fuzz_runs;

static void fuzz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_encode invariant violated: %s %s\n", what, detail ? detail : "");
  abort();
}

static int fuzz_decode(lua_State *L, const char *text, size_t len) {
  ar_json_options opts;
  ar_json_error err;
  opts.max_depth = FUZZ_MAX_DEPTH;
  opts.array_mt = FUZZ_ARRAY_MT;
  opts.sparse_array_mt = FUZZ_SPARSE_MT;
  opts.integer_keys = 0;
  return ar_json_decode(L, text, len, &opts, &err);
}

static int fuzz_encode(lua_State *L, char message[AR_ENCODE_MESSAGE_SIZE]) {
  ar_encode_options opts;
  int top = lua_gettop(L), ok;
  opts.max_depth = FUZZ_MAX_DEPTH;
  opts.array_mt = FUZZ_ARRAY_MT;
  opts.sparse_array_mt = FUZZ_SPARSE_MT;
  opts.key_order = 0;
  ok = ar_encode(L, -1, &opts, message);
  if (lua_gettop(L) != top + (ok ? 1 : 0)) fuzz_fail("encode left the stack at the wrong height", NULL);
  if (ok && lua_type(L, -1) != LUA_TSTRING) fuzz_fail("encode pushed a non-string", NULL);
  return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L;
  char message[AR_ENCODE_MESSAGE_SIZE];
  size_t len1, len2;
  const char *text1, *text2;
  if (fuzz_L == NULL) {
    fuzz_L = luaL_newstate();
    if (fuzz_L == NULL) abort();
  }
  L = fuzz_L;
  lua_settop(L, 0);
  lua_newtable(L);
  lua_newtable(L);
  if (!fuzz_decode(L, (const char *)data, size)) return 0;
  if (!fuzz_encode(L, message)) fuzz_fail("a decoded value did not encode:", message);
  text1 = lua_tolstring(L, -1, &len1);
  if (!fuzz_decode(L, text1, len1)) fuzz_fail("the encoder's text did not decode:", text1);
  if (!fuzz_encode(L, message)) fuzz_fail("a decoded text did not encode again:", message);
  text2 = lua_tolstring(L, -1, &len2);
  if (len1 != len2 || memcmp(text1, text2, len1) != 0) fuzz_fail("two texts for one value:", text1);
  if (lua_gettop(L) != FUZZ_SPARSE_MT + 4) fuzz_fail("unexpected stack height", NULL);
  if (++fuzz_runs % FUZZ_GC_EVERY == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
