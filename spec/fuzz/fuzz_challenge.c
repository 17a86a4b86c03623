/* libFuzzer harness for the WWW-Authenticate tokenizer (csrc/challenge.c) and
 * core.parse_digest_challenges (csrc/lcore.c). The input is split at 0x1E
 * (record separator, itself refused by the grammar) into header values.
 * Invariants checked beyond "no sanitizer report":
 * - the tokenizer ends (END or ERROR) within one step per input byte, every
 *   item lies inside the input, schemes and parameter names are non-empty
 *   tokens, bare values are tokens, unquoted values hold no control character
 *   but HTAB, an error has a message and an offset inside the input;
 * - parse_digest_challenges returns a list of tables of strings, each with
 *   realm and nonce, or nil, message, "BAD_RESPONSE"; it never raises.
 * Build: see spec/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "challenge.h"
#include "head.h"

#define FUZZ_GC_EVERY 1000
#define FUZZ_SEPARATOR 0x1e

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int luaopen_atlasrestore_core(lua_State *L);

static lua_State *fuzz_L;
static unsigned long fuzz_runs;
static int fuzz_parse_ref;

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_challenge invariant violated: %s\n", what);
    abort();
}

static void fuzz_token(const char *p, size_t n, const char *what)
{
    size_t i;

    if (n == 0)
        fuzz_fail(what);
    for (i = 0; i < n; i++)
        if (!ar_head_tchar((unsigned char)p[i]))
            fuzz_fail(what);
}

static void fuzz_within(const char *p, size_t n, const char *s, size_t len)
{
    if (n && (p < s || p + n > s + len))
        fuzz_fail("an item points outside the input");
}

static void fuzz_tokenize(const char *s, size_t len)
{
    ar_auth_parser ps;
    ar_auth_item item;
    ar_auth_kind kind;
    size_t steps = 0, i;
    char *scratch = (char *)malloc(len + 1);

    if (scratch == NULL)
        abort();
    ar_auth_init(&ps, s, len);
    do {
        if (++steps > len + 2)
            fuzz_fail("the tokenizer does not end");
        kind = ar_auth_next(&ps, &item);
        fuzz_within(item.name, item.name_len, s, len);
        fuzz_within(item.value, item.value_len, s, len);
        if (kind == AR_AUTH_SCHEME)
            fuzz_token(item.name, item.name_len, "scheme is not a token");
        if (kind == AR_AUTH_TOKEN68 && item.name_len == 0)
            fuzz_fail("empty token68");
        if (kind == AR_AUTH_PARAM) {
            fuzz_token(item.name, item.name_len, "parameter name is not a token");
            if (!item.quoted) {
                fuzz_token(item.value, item.value_len, "bare value is not a token");
            } else {
                size_t n = ar_auth_unquote(item.value, item.value_len, scratch);
                if (n > item.value_len)
                    fuzz_fail("unquoting grew the value");
                for (i = 0; i < n; i++) {
                    unsigned char c = (unsigned char)scratch[i];
                    if ((c < 0x20 && c != '\t') || c == 0x7f)
                        fuzz_fail("control character in a quoted value");
                }
            }
        }
        if (kind == AR_AUTH_ERROR && (ps.error == NULL || ar_auth_offset(&ps) > len))
            fuzz_fail("error without a message or outside the input");
    } while (kind != AR_AUTH_END && kind != AR_AUTH_ERROR);
    free(scratch);
}

static void fuzz_check_challenges(lua_State *L)
{
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);

    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        if (!lua_istable(L, -1))
            fuzz_fail("a challenge is not a table");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                fuzz_fail("a parameter is not string = string");
            lua_pop(L, 1);
        }
        lua_getfield(L, -1, "realm");
        lua_getfield(L, -2, "nonce");
        if (!lua_isstring(L, -1) || !lua_isstring(L, -2))
            fuzz_fail("a challenge without realm or nonce");
        lua_pop(L, 3);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;
    lua_State *L;
    int count = 0;

    if (fuzz_L == NULL) {
        fuzz_L = luaL_newstate();
        if (fuzz_L == NULL)
            abort();
        luaopen_atlasrestore_core(fuzz_L);
        lua_getfield(fuzz_L, -1, "parse_digest_challenges");
        fuzz_parse_ref = luaL_ref(fuzz_L, LUA_REGISTRYINDEX);
        lua_settop(fuzz_L, 0);
    }
    L = fuzz_L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_parse_ref);
    lua_newtable(L);
    for (;;) {
        const char *sep = (const char *)memchr(s, FUZZ_SEPARATOR, (size_t)(end - s));
        const char *value_end = sep ? sep : end;
        fuzz_tokenize(s, (size_t)(value_end - s));
        lua_pushlstring(L, s, (size_t)(value_end - s));
        lua_rawseti(L, -2, ++count);
        if (!sep)
            break;
        s = sep + 1;
    }
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK)
        fuzz_fail("parse_digest_challenges raised");
    if (lua_gettop(L) == 1 && lua_istable(L, 1))
        fuzz_check_challenges(L);
    else if (lua_gettop(L) != 3 || !lua_isnil(L, 1) || lua_type(L, 2) != LUA_TSTRING ||
             lua_type(L, 3) != LUA_TSTRING || strcmp(lua_tostring(L, 3), "BAD_RESPONSE") != 0)
        fuzz_fail("the result is neither a list nor nil, message, BAD_RESPONSE");
    lua_settop(L, 0);
    if (++fuzz_runs % FUZZ_GC_EVERY == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
