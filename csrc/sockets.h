/* The sockets of one connection cache (a multi handle's), so
 * that a connection is checked at the moment libcurl re-uses it for a new
 * request. Bytes that arrived while it sat idle (a second, unsolicited
 * response; a body after a 204 or a 304) would otherwise be read as the
 * answer to the new request: libcurl's own liveness check takes pending data
 * for a live connection. Such a connection is killed instead: its descriptor
 * is replaced by a dead socket, so sending the request fails, and libcurl
 * retries on a fresh connection as it does for any re-used connection that
 * died. New connections are not checked (a TLS server may send session
 * tickets right after its handshake). Plain C: the libcurl callbacks here
 * never call Lua. Needs libcurl 7.80 (CURLOPT_PREREQFUNCTION). */
#ifndef AR_SOCKETS_H
#define AR_SOCKETS_H

#include <stddef.h>

#include <curl/curl.h>

typedef struct ar_socket {
  curl_socket_t fd;
  int served; /* a request was sent on it: the next one re-uses it */
} ar_socket;

typedef struct ar_sockets {
  ar_socket *items;
  size_t count, cap;
  int dead; /* a socket whose peer is closed: reads give EOF, writes fail */
} ar_sockets;

/* Returns 0, or -1 when no socket is left for the dead one. */
int ar_sockets_init(ar_sockets *s);
/* Once every connection of the cache is closed. Safe after a failed init. */
void ar_sockets_free(ar_sockets *s);
/* Makes the easy handle's connections report to s (after each curl_easy_reset). */
void ar_sockets_attach(ar_sockets *s, CURL *easy);

#endif
