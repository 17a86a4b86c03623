/* The "strings" floor of decoding, for spec/bench.lua (Lua 5.4): replays the
 * Lua API calls that building a decoded page takes, from a tape of operations
 * made once from that page by spec/bench/floors.lua, with every string cut
 * from the page's bytes (lua_pushlstring) at each run, and no parsing at all.
 *
 *   local floor = require "floor"
 *   local tape = floor.compile(ops)   -- ops: an array of integers, see OP_*
 *   local value = floor.run(tape, body, constants, array_mt, sparse_array_mt)
 *
 * A tape only reads the body it was made from: offsets past its end raise. */
#include <lua.h>
#include <lauxlib.h>

enum {
    OP_OBJECT = 1, /* n: a table with n fields */
    OP_ARRAY,      /* n: a table with n array slots */
    OP_STRING,     /* offset length: the body's bytes, 0-based */
    OP_CONSTANT,   /* i: constants[i] (a decoded escaped string, a float) */
    OP_INTEGER,    /* v */
    OP_TRUE,
    OP_FALSE,
    OP_SET,        /* table key value -> table[key] = value */
    OP_SETI,       /* i: table value -> table[i] = value */
    OP_CLOSE       /* sparse: the array's metatable (array_mt, or sparse_array_mt when 1) */
};

typedef struct {
    lua_Integer n;
    lua_Integer depth;
    lua_Integer op[1];
} Tape;

static int floor_compile(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    Tape *t = (Tape *)lua_newuserdatauv(L, sizeof(Tape) + (size_t)n * sizeof(lua_Integer), 0);
    lua_Integer depth = 0;
    t->n = n;
    t->depth = 0;
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        int ok;
        t->op[i] = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok) return luaL_error(L, "floor.compile: entry %d is not an integer", (int)(i + 1));
    }
    /* The deepest stack a run needs: tables and keys open at once. */
    for (lua_Integer i = 0; i < n; i++) {
        switch (t->op[i]) {
        case OP_OBJECT: case OP_ARRAY: case OP_CONSTANT: case OP_INTEGER: depth += 1; i += 1; break;
        case OP_STRING: depth += 1; i += 2; break;
        case OP_TRUE: case OP_FALSE: depth += 1; break;
        case OP_SET: depth -= 2; break;
        case OP_SETI: depth -= 1; i += 1; break;
        case OP_CLOSE: i += 1; break;
        default: return luaL_error(L, "floor.compile: unknown operation %d", (int)t->op[i]);
        }
        if (depth > t->depth) t->depth = depth;
    }
    return 1;
}

static int floor_run(lua_State *L)
{
    const Tape *t = (const Tape *)lua_touserdata(L, 1);
    size_t size;
    const char *body = luaL_checklstring(L, 2, &size);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_argcheck(L, t != NULL, 1, "a tape expected");
    luaL_checkstack(L, (int)t->depth + 2, "floor.run: too deep");
    const lua_Integer *op = t->op, *end = t->op + t->n;
    while (op < end) {
        switch (*op++) {
        case OP_OBJECT: lua_createtable(L, 0, (int)*op++); break;
        case OP_ARRAY: lua_createtable(L, (int)*op++, 0); break;
        case OP_STRING:
            if (op[0] < 0 || op[1] < 0 || (size_t)(op[0] + op[1]) > size) return luaL_error(L, "floor.run: past the body");
            lua_pushlstring(L, body + op[0], (size_t)op[1]);
            op += 2;
            break;
        case OP_CONSTANT: lua_rawgeti(L, 3, *op++); break;
        case OP_INTEGER: lua_pushinteger(L, *op++); break;
        case OP_TRUE: lua_pushboolean(L, 1); break;
        case OP_FALSE: lua_pushboolean(L, 0); break;
        case OP_SET: lua_rawset(L, -3); break;
        case OP_SETI: lua_rawseti(L, -2, *op++); break;
        case OP_CLOSE:
            lua_pushvalue(L, *op++ ? 5 : 4);
            lua_setmetatable(L, -2);
            break;
        default: return luaL_error(L, "floor.run: bad tape");
        }
    }
    return 1;
}

static const luaL_Reg functions[] = {
    { "compile", floor_compile },
    { "run", floor_run },
    { NULL, NULL },
};

__attribute__((visibility("default"))) int luaopen_floor(lua_State *L);

int luaopen_floor(lua_State *L)
{
    luaL_newlib(L, functions);
    return 1;
}
