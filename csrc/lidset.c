/* The listing's per-job work on a decoded page, in C so that it costs a few
 * table reads a job rather than a Lua loop over every field.
 *
 * core.idset(): each job's id checked, looked up and remembered, the new jobs
 * collected.
 *   seen = core.idset()
 *   jobs = seen:select(results, page_num)   -- the jobs not seen before, in order
 *        | nil, message                     -- a job without a valid id, or a page of nothing new
 *   seen:count() -> ids remembered
 *
 * The record checks (core's array metatables as upvalues 1 and 2): a job is an
 * object, its integer fields are integers, desiredTimestamp an object whose
 * increment is an integer.
 *   core.check_jobs(results) -> nil | "results[i].field is not ..."
 *   core.check_job(record, name) -> nil | "<name>.field is not ..." */
#include <math.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "idset.h"
#include "json.h"
#include "lidset.h"

#define AR_IDSET_MT "atlasrestore.core.IdSet"

/* The job fields the contract types as integers (response.INTEGER_FIELDS). */
static const char *const ar_job_integer_fields[] = { "oplogTs", "oplogInc", "pointInTimeUTCSeconds" };
#define AR_JOB_INTEGER_FIELDS (sizeof ar_job_integer_fields / sizeof ar_job_integer_fields[0])

#if LUA_VERSION_NUM >= 503
#define AR_AN_INTEGER "a 64-bit integer"
#else
#define AR_AN_INTEGER "an integer within +/-(2^53 - 1)"
#endif

/* Where numbers are only doubles, an integral value is an integer within
 * +/-(2^53 - 1), where doubles are exact: past it a wire value may already
 * have been rounded. */
static int ar_is_integer(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 503
  return lua_isinteger(L, idx);
#else
  lua_Number n;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  n = lua_tonumber(L, idx);
  return n == floor(n) && n >= -9007199254740991.0 && n <= 9007199254740991.0;
#endif
}

/* True when the value at idx is a decoded array (core's array metatables). */
static int ar_is_array(lua_State *L, int idx) {
  int array;
  if (!lua_getmetatable(L, idx)) return 0;
  array = lua_rawequal(L, -1, lua_upvalueindex(1)) || lua_rawequal(L, -1, lua_upvalueindex(2));
  lua_pop(L, 1);
  return array;
}

/* The stack slots ar_job_problem reads its field names from: pushed once a call. */
static int ar_push_job_names(lua_State *L) {
  size_t i;
  int first = lua_gettop(L) + 1;
  luaL_checkstack(L, (int)AR_JOB_INTEGER_FIELDS + 4, "checking jobs");
  for (i = 0; i < AR_JOB_INTEGER_FIELDS; i++) lua_pushstring(L, ar_job_integer_fields[i]);
  lua_pushliteral(L, "desiredTimestamp");
  lua_pushliteral(L, "increment");
  return first;
}

/* What is wrong with the job at idx, or NULL; *field names the field (NULL for the job itself). */
static const char *ar_job_problem(lua_State *L, int idx, int names, const char **field) {
  size_t i;
  int ok;
  *field = NULL;
  if (lua_type(L, idx) != LUA_TTABLE || ar_is_array(L, idx)) {
    if (lua_type(L, idx) == LUA_TTABLE) return "is a array, not an object";
    lua_pushfstring(L, "is a %s, not an object", luaL_typename(L, idx));
    return lua_tostring(L, -1);
  }
  for (i = 0; i < AR_JOB_INTEGER_FIELDS; i++) {
    lua_pushvalue(L, names + (int)i);
    lua_rawget(L, idx);
    ok = lua_isnil(L, -1) || ar_is_integer(L, -1);
    lua_pop(L, 1);
    if (!ok) {
      *field = ar_job_integer_fields[i];
      return "is not " AR_AN_INTEGER;
    }
  }
  lua_pushvalue(L, names + (int)AR_JOB_INTEGER_FIELDS);
  lua_rawget(L, idx);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TTABLE || ar_is_array(L, -1)) {
    lua_pop(L, 1);
    *field = "desiredTimestamp";
    return "is not an object";
  }
  lua_pushvalue(L, names + (int)AR_JOB_INTEGER_FIELDS + 1);
  lua_rawget(L, -2);
  ok = lua_isnil(L, -1) || ar_is_integer(L, -1);
  lua_pop(L, 2);
  if (ok) return NULL;
  *field = "desiredTimestamp.increment";
  return "is not " AR_AN_INTEGER;
}

/* Pushes "<where>[.field] <problem>". */
static int ar_push_job_problem(lua_State *L, const char *where, const char *field, const char *problem) {
  lua_pushfstring(L, "%s%s%s %s", where, field ? "." : "", field ? field : "", problem);
  return 1;
}

int ar_core_check_jobs(lua_State *L) {
  int n, i, names;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  n = (int)lua_rawlen(L, 1);
  names = ar_push_job_names(L);
  for (i = 1; i <= n; i++) {
    const char *field, *problem;
    lua_rawgeti(L, 1, i);
    problem = ar_job_problem(L, lua_gettop(L), names, &field);
    if (problem) {
      lua_pushfstring(L, "results[%d]", i);
      return ar_push_job_problem(L, lua_tostring(L, -1), field, problem);
    }
    lua_pop(L, 1);
  }
  return 0;
}

int ar_core_check_job(lua_State *L) {
  const char *where = luaL_checkstring(L, 2), *field, *problem;
  lua_settop(L, 2);
  problem = ar_job_problem(L, 1, ar_push_job_names(L), &field);
  return problem ? ar_push_job_problem(L, where, field, problem) : 0;
}

static int ar_idset_select(lua_State *L) {
  ar_idset *set = (ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT);
  lua_Integer page_num = luaL_checkinteger(L, 3);
  int n, i, count = 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)lua_rawlen(L, 2);
  lua_createtable(L, n, 0);
  luaL_getmetatable(L, AR_JSON_ARRAY_MT);
  lua_setmetatable(L, -2);
  for (i = 1; i <= n; i++) {
    unsigned char id[AR_ID_BYTES];
    const char *s;
    size_t len;
    int added;
    lua_rawgeti(L, 2, i);
    if (lua_type(L, -1) != LUA_TTABLE) return luaL_error(L, "results[%d] is not a table", i);
    lua_getfield(L, -1, "id");
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pushnil(L);
      lua_pushfstring(L, "page %d has a job without an id, which cannot be listed exactly once", (int)page_num);
      return 2;
    }
    s = lua_tolstring(L, -1, &len);
    if (ar_id_parse(s, len, id) != 0) {
      lua_pushnil(L);
      lua_pushfstring(L, "page %d: results[%d].id is not 24 lowercase hexadecimal characters", (int)page_num, i);
      return 2;
    }
    lua_pop(L, 1);
    added = ar_idset_add(set, id);
    if (added < 0) return luaL_error(L, "not enough memory");
    if (added) {
      lua_rawseti(L, -2, ++count);
    } else {
      lua_pop(L, 1);
    }
  }
  if (n > 0 && count == 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "page %d repeats only jobs already listed; the server is not paginating", (int)page_num);
    return 2;
  }
  return 1;
}

static int ar_idset_count(lua_State *L) {
  ar_idset *set = (ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT);
  lua_pushinteger(L, (lua_Integer)set->count);
  return 1;
}

static int ar_idset_gc(lua_State *L) {
  ar_idset_free((ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT));
  return 0;
}

static const luaL_Reg ar_idset_methods[] = {
  { "select", ar_idset_select },
  { "count", ar_idset_count },
  { "__gc", ar_idset_gc },
  { NULL, NULL },
};

int ar_core_idset(lua_State *L) {
  ar_idset *set = (ar_idset *)lua_newuserdata(L, sizeof *set);
  ar_idset_init(set);
  if (luaL_newmetatable(L, AR_IDSET_MT)) {
    luaL_setfuncs(L, ar_idset_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  return 1;
}
