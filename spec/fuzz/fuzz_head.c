/* libFuzzer harness for the response head parser (csrc/head.c), the framing
 * rules (csrc/framing.c) and the Lua values built from them (csrc/luahead.c).
 * Invariants checked beyond "no sanitizer report":
 * - success: 100 <= status <= 999, at most AR_HEAD_MAX_FIELDS fields, every
 *   name and value inside the input, names non-empty tokens, values without
 *   control characters other than HTAB, bar the line breaks of an obs-fold;
 * - failure: a message; an input past AR_HEAD_MAX_BYTES is AR_HEAD_TOO_LARGE;
 * - ar_lua_head agrees: status and a table (string values, a list of strings
 *   for www-authenticate, lowercase names) and, for a final head, a framing
 *   table, on success; else nil, message, code, and nothing else on the stack;
 *   a final head whose framing ar_framing_of refuses fails the same way;
 * - the chunked-body checker gives the same verdict on the input whole and
 *   on the input cut in two at any point. 
 * Build: see spec/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "framing.h"
#include "head.h"
#include "luahead.h"

#define FUZZ_GC_EVERY 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fuzz_L;
static unsigned long fuzz_runs;
static ar_head fuzz_head;
static ar_chunked fuzz_whole, fuzz_cut;

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_head invariant violated: %s\n", what);
    abort();
}

static void fuzz_within(const char *p, size_t n, const uint8_t *data, size_t size)
{
    if (p < (const char *)data || p + n > (const char *)data + size)
        fuzz_fail("a field points outside the input");
}

static void fuzz_check_field(const ar_head_field *f, const uint8_t *data, size_t size)
{
    size_t i;

    fuzz_within(f->name, f->name_len, data, size);
    fuzz_within(f->value, f->value_len, data, size);
    if (f->name_len == 0)
        fuzz_fail("empty field name");
    for (i = 0; i < f->name_len; i++)
        if (!ar_head_tchar((unsigned char)f->name[i]))
            fuzz_fail("field name is not a token");
    for (i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if ((c < 0x20 && c != '\t' && !(f->folded && (c == '\r' || c == '\n'))) || c == 0x7f)
            fuzz_fail("control character in a field value");
    }
}

static void fuzz_check_table(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t n, i;
        const char *name;
        if (lua_type(L, -2) != LUA_TSTRING)
            fuzz_fail("header name is not a string");
        name = lua_tolstring(L, -2, &n);
        for (i = 0; i < n; i++)
            if (name[i] >= 'A' && name[i] <= 'Z')
                fuzz_fail("header name is not lowercase");
        if (strcmp(name, "www-authenticate") == 0) {
            if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) == 0)
                fuzz_fail("www-authenticate is not a non-empty list");
        } else if (lua_type(L, -1) != LUA_TSTRING) {
            fuzz_fail("header value is not a string");
        }
        lua_pop(L, 1);
    }
}

static void fuzz_check_chunked(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t cut = size ? data[0] * size / 256 : 0;
    const char *whole, *first, *second = NULL;

    ar_chunked_init(&fuzz_whole);
    ar_chunked_init(&fuzz_cut);
    whole = ar_chunked_feed(&fuzz_whole, text, size);
    first = ar_chunked_feed(&fuzz_cut, text, cut);
    if (!first)
        second = ar_chunked_feed(&fuzz_cut, text + cut, size - cut);
    if ((whole == NULL) != (first == NULL && second == NULL))
        fuzz_fail("the chunked checker's verdict depends on where the bytes were cut");
    if (!whole && (fuzz_whole.state != fuzz_cut.state || fuzz_whole.extra != fuzz_cut.extra))
        fuzz_fail("the chunked checker's state depends on where the bytes were cut");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    ar_head_result result = ar_head_parse((const char *)data, size, &fuzz_head, &why);
    ar_framing framing;
    int final;
    size_t i;
    int n;

    if (fuzz_L == NULL) {
        fuzz_L = luaL_newstate();
        if (fuzz_L == NULL)
            abort();
    }
    if (size > AR_HEAD_MAX_BYTES && result != AR_HEAD_TOO_LARGE)
        fuzz_fail("an oversized head is not AR_HEAD_TOO_LARGE");
    if (result == AR_HEAD_OK) {
        if (fuzz_head.status < 100 || fuzz_head.status > 999)
            fuzz_fail("status out of range");
        if (fuzz_head.count > AR_HEAD_MAX_FIELDS)
            fuzz_fail("too many fields");
        for (i = 0; i < fuzz_head.count; i++)
            fuzz_check_field(&fuzz_head.fields[i], data, size);
    } else if (why == NULL || why[0] == '\0') {
        fuzz_fail("failure without a message");
    }
    final = result == AR_HEAD_OK && !ar_head_interim(fuzz_head.status);
    if (final && ar_framing_of(&fuzz_head, &framing) != NULL)
        result = AR_HEAD_MALFORMED;
    fuzz_check_chunked(data, size);

    lua_settop(fuzz_L, 0);
    n = ar_lua_head(fuzz_L, (const char *)data, size);
    if (lua_gettop(fuzz_L) != n)
        fuzz_fail("ar_lua_head's count differs from the stack");
    if (result == AR_HEAD_OK) {
        if (n != (final ? 3 : 2) || lua_tointeger(fuzz_L, 1) != fuzz_head.status || !lua_istable(fuzz_L, 2) ||
            (final && !lua_istable(fuzz_L, 3)))
            fuzz_fail("success is not status, headers[, framing]");
        lua_settop(fuzz_L, 2);
        fuzz_check_table(fuzz_L);
    } else if (n != 3 || !lua_isnil(fuzz_L, 1) || lua_type(fuzz_L, 2) != LUA_TSTRING ||
               lua_type(fuzz_L, 3) != LUA_TSTRING ||
               strcmp(lua_tostring(fuzz_L, 3), result == AR_HEAD_TOO_LARGE ? "RESPONSE_TOO_LARGE" : "BAD_RESPONSE") != 0) {
        fuzz_fail("failure is not nil, message, code");
    }
    lua_settop(fuzz_L, 0);
    if (++fuzz_runs % FUZZ_GC_EVERY == 0)
        lua_gc(fuzz_L, LUA_GCCOLLECT, 0);
    return 0;
}
