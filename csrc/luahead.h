/* Lua values of a response head (see head.h), shared by both modules. */
#ifndef AR_LUAHEAD_H
#define AR_LUAHEAD_H

#include <stddef.h>
#include "lua.h"

#include "head.h"

/* Parses data[0..len) and pushes `status, headers, framing` (returns 3; an
 * interim head gives `status, headers`, returns 2) or `nil, message, code`
 * (returns 3), code "RESPONSE_TOO_LARGE" or "BAD_RESPONSE"; a final head
 * whose framing framing.h refuses is BAD_RESPONSE too. framing: { body =
 * "none" | "length" | "chunked" | "close", length = bytes, persist = boolean }. */
int ar_lua_head(lua_State *L, const char *data, size_t len);

/* Pushes the headers of a parsed head: lowercase names; repeated fields joined
 * with ", " (RFC 9110 5.3), except www-authenticate, which is always a list of
 * strings: its values cannot be joined safely. */
void ar_lua_push_headers(lua_State *L, const ar_head *head);

/* core.parse_chunk_size(line without its line end) -> size | nil, message, "BAD_RESPONSE" (framing.h). */
int ar_lua_chunk_size(lua_State *L);

/* Pushes s[0..len) in ASCII lowercase. */
void ar_lua_push_lower(lua_State *L, const char *s, size_t len);

#endif
