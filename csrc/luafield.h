/* Typed fields of an argument table, shared by both modules. Misuse (a field
 * of the wrong type) raises, as luaL_check* does for arguments. */
#ifndef AR_LUAFIELD_H
#define AR_LUAFIELD_H

#include <stddef.h>
#include "lua.h"

/* t[name] as a string and its length, or NULL when it is nil and not required.
 * The table keeps the string alive. */
const char *ar_field_lstring(lua_State *L, int t, const char *name, int required, size_t *len);
/* Whether s[0..len) can go into a header: no CR, LF or NUL. */
int ar_field_header_safe(const char *s, size_t len);
/* t[name] as a number >= 0, or fallback when it is nil. */
double ar_field_number(lua_State *L, int t, const char *name, double fallback);

#endif
