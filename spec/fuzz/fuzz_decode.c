/* libFuzzer harness for ar_json_decode: decodes each input into a long-lived
 * lua_State and then walks the result, so table building is fuzzed too.
 * Invariants checked beyond "no sanitizer report":
 * - success leaves exactly one new value on the stack, failure none;
 * - values below the decoder's base slot are untouched;
 * - the error offset lies within the input and the message is a non-empty C string;
 * - every produced string (keys and values) is well-formed UTF-8;
 * - arrays (and only arrays) carry the array metatable and have only integer keys,
 *   objects only string keys.
 * Build: see spec/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "json.h"

#define FUZZ_MAX_DEPTH 64
#define FUZZ_DEEP_DEPTH 300
#define FUZZ_GC_EVERY 1000
#define FUZZ_SENTINEL 0x5eed
/* Stack slots below the decoder's base: a sentinel and the array metatable. */
#define FUZZ_ARRAY_MT 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fuzz_L;
static unsigned long fuzz_runs;
static int fuzz_mt_ref;

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_decode invariant violated: %s\n", what);
    abort();
}

static int fuzz_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], lo = 0x80, hi = 0xBF;
        size_t k, len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            unsigned d = s[i + k];
            if (d < lo || d > hi)
                return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        i += len;
    }
    return 1;
}

static unsigned long fuzz_touch(lua_State *L, int idx)
{
    size_t n;
    const char *s;

    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        if (!fuzz_utf8_ok((const unsigned char *)s, n))
            fuzz_fail("decoded string is not UTF-8");
        return (unsigned long)n + (n ? (unsigned char)s[n - 1] : 0u);
    case LUA_TNUMBER:
        return (unsigned long)(lua_tonumber(L, idx) != 0);
    case LUA_TBOOLEAN:
        return (unsigned long)lua_toboolean(L, idx);
    case LUA_TTABLE:
        return 1;
    default:
        /* The decoder produces nothing else (nil only at top level). */
        fuzz_fail("unexpected value type");
        return 0;
    }
}

/* Visits every key and value reachable from the value at the top. */
static unsigned long fuzz_walk(lua_State *L, int depth, int max_depth)
{
    unsigned long acc = fuzz_touch(L, -1);
    int is_array;

    if (lua_type(L, -1) != LUA_TTABLE)
        return acc;
    if (depth > max_depth)
        fuzz_fail("table nesting deeper than max_depth");
    if (!lua_checkstack(L, 3))
        fuzz_fail("lua_checkstack");
    is_array = lua_getmetatable(L, -1);
    if (is_array) {
        if (!lua_rawequal(L, -1, FUZZ_ARRAY_MT))
            fuzz_fail("foreign metatable");
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (is_array) {
            if (lua_type(L, -2) != LUA_TNUMBER || lua_tonumber(L, -2) < 1)
                fuzz_fail("array key is not an index");
        } else if (lua_type(L, -2) != LUA_TSTRING) {
            fuzz_fail("object key is not a string");
        } else {
            lua_pushvalue(L, -2); /* touching a copy keeps lua_next's key intact */
            acc += fuzz_touch(L, -1);
            lua_pop(L, 1);
        }
        acc += fuzz_walk(L, depth + 1, max_depth);
        lua_pop(L, 1);
    }
    return acc;
}

/* Pushes the shared array metatable (created once, kept in the registry by
 * reference so no string lookups feed the fuzzer's comparison tracing). */
static void fuzz_push_array_mt(lua_State *L)
{
    if (fuzz_mt_ref == 0) {
        lua_newtable(L);
        fuzz_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_mt_ref);
}

static void fuzz_check_error(const ar_json_error *err, size_t size)
{
    if (err->offset > size)
        fuzz_fail("error offset beyond input");
    if (memchr(err->message, '\0', sizeof err->message) == NULL || err->message[0] == '\0')
        fuzz_fail("error message not a non-empty C string");
}

static void fuzz_decode_once(lua_State *L, const uint8_t *data, size_t size, int max_depth,
                             int *too_deep)
{
    ar_json_options opts;
    ar_json_error err;

    lua_settop(L, 0);
    lua_pushinteger(L, FUZZ_SENTINEL);
    fuzz_push_array_mt(L);
    memset(&err, 0, sizeof err);
    *too_deep = 0;
    opts.max_depth = max_depth;
    opts.array_mt = FUZZ_ARRAY_MT;
    opts.integer_keys = 0;
    opts.sparse_array_mt = 0;
    if (ar_json_decode(L, (const char *)data, size, &opts, &err)) {
        if (lua_gettop(L) != FUZZ_ARRAY_MT + 1)
            fuzz_fail("success must push exactly one value");
        if (!lua_isnil(L, -1))
            (void)fuzz_walk(L, 1, max_depth);
    } else {
        if (lua_gettop(L) != FUZZ_ARRAY_MT)
            fuzz_fail("failure must leave the stack as it was");
        fuzz_check_error(&err, size);
        *too_deep = strstr(err.message, "too deeply nested") != NULL;
    }
    if (lua_tointeger(L, 1) != FUZZ_SENTINEL || !lua_istable(L, FUZZ_ARRAY_MT))
        fuzz_fail("slot below the decoder's base was modified");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int too_deep;

    if (fuzz_L == NULL) {
        fuzz_L = luaL_newstate();
        if (fuzz_L == NULL)
            abort();
    }
    fuzz_decode_once(fuzz_L, data, size, FUZZ_MAX_DEPTH, &too_deep);
    /* Deep inputs also exercise the frames that spill into a userdata. */
    if (too_deep)
        fuzz_decode_once(fuzz_L, data, size, FUZZ_DEEP_DEPTH, &too_deep);
    lua_settop(fuzz_L, 0);
    if (++fuzz_runs % FUZZ_GC_EVERY == 0)
        lua_gc(fuzz_L, LUA_GCCOLLECT, 0);
    return 0;
}
