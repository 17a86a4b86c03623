/* The Lua side of a transfer (request.c), for the multi handle (lmulti.c). */
#ifndef AR_REQUEST_H
#define AR_REQUEST_H

#include "lua.h"

#include "transfer.h"

/* Reads the request table at idx into *r: url, method ("GET" or "POST"),
 * headers (a list of "Name: value" lines, checked and ordered by the caller),
 * body, timeout, connect_timeout, low_speed_time, low_speed_limit, max_body,
 * ca_file, proxy. Raises on misuse with nothing allocated; otherwise *r owns
 * copies of every string. */
void ar_request_read(lua_State *L, int idx, ar_request *r);
/* Sets a finished transfer's results into the table at the top: status,
 * headers, body, elapsed; or code, message, status (when a response came), elapsed. */
void ar_transfer_set_result(lua_State *L, ar_transfer *t);
/* Monotonic seconds. */
double ar_now(void);

#endif
