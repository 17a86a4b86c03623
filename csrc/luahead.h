/* Lua values of a response head (see head.h), shared by both modules. */
#ifndef AR_LUAHEAD_H
#define AR_LUAHEAD_H

#include <stddef.h>
#include "lua.h"

/* Parses data[0..len) and pushes `status, headers` (returns 2) or
 * `nil, code, message` (returns 3), code "RESPONSE_TOO_LARGE" or "BAD_RESPONSE".
 * headers: lowercase names; repeated fields joined with ", " (RFC 9110 5.3),
 * except www-authenticate, which is always a list of strings: its values
 * cannot be joined safely. */
int ar_lua_head(lua_State *L, const char *data, size_t len);

/* Pushes s[0..len) in ASCII lowercase. */
void ar_lua_push_lower(lua_State *L, const char *s, size_t len);

#endif
