/* Sans-IO framing of an HTTP/1.x response (RFC 9112 sections 6, 7 and 9.3):
 * how its body is delimited and whether its connection may carry another
 * request, decided from its parsed head; the chunk-size line; and a checker
 * of a chunked body as its bytes arrive. Both transports follow these rules
 * (libcurl's own parser is lenient in places: the libcurl transport applies
 * them from its callbacks). No Lua, no I/O.
 *
 * The rules:
 * - 1xx (but 101), 204 and 304 have no body.
 * - Transfer-Encoding, when present, is exactly "chunked" (one coding, named
 *   whole: "xchunked" or "gzip, chunked" are refused, as no other transfer
 *   coding is asked for). Beside a Content-Length, or in HTTP/1.0, the body
 *   is still read as chunked, but the connection is not re-used.
 * - Content-Length is 1*DIGIT; a list (or repeated fields) must repeat one
 *   value ("10, 10"); a sign, a list that disagrees or an empty value is refused.
 * - Without either, the body runs to the close, and the connection goes.
 * - HTTP/1.1 persists unless Connection has "close"; HTTP/1.0 only when
 *   Connection has "keep-alive" (and not "close").
 * - A chunk-size line is 1*16HEXDIG (leading zeros count toward the 16) below
 *   2^63, then optional chunk extensions (";" name ["=" token or quoted
 *   string], whitespace around the separators), then optional whitespace;
 *   lines end in CRLF or a bare LF, at most AR_CHUNK_LINE_MAX bytes, after
 *   the data too; at most AR_CHUNK_TRAILERS trailer lines. */
#ifndef AR_FRAMING_H
#define AR_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "head.h"

#define AR_CHUNK_LINE_MAX 4096
#define AR_CHUNK_SIZE_DIGITS 16
#define AR_CHUNK_TRAILERS 64

typedef enum ar_body_kind { AR_BODY_NONE, AR_BODY_LENGTH, AR_BODY_CHUNKED, AR_BODY_CLOSE } ar_body_kind;

typedef struct ar_framing {
  ar_body_kind body;
  uint64_t length; /* AR_BODY_LENGTH: the body's bytes */
  int persist;     /* the connection may carry the next request */
} ar_framing;

/* Fills *f from a final head: NULL, or why its framing is refused. */
const char *ar_framing_of(const ar_head *head, ar_framing *f);

/* A chunk-size line without its line end: NULL and *size, or why not. */
const char *ar_chunk_size(const char *line, size_t len, uint64_t *size);

typedef enum ar_chunked_state {
  AR_CHUNKED_SIZE,
  AR_CHUNKED_DATA,
  AR_CHUNKED_DATA_END,
  AR_CHUNKED_TRAILER,
  AR_CHUNKED_DONE
} ar_chunked_state;

typedef struct ar_chunked {
  ar_chunked_state state;
  uint64_t left; /* AR_CHUNKED_DATA: bytes of the chunk still to come */
  int trailers;  /* trailer lines so far */
  int extra;     /* bytes came after the end of the body */
  size_t line_len;
  char line[AR_CHUNK_LINE_MAX + 1]; /* the line being read, its CR included */
} ar_chunked;

void ar_chunked_init(ar_chunked *c);
/* Checks the next raw bytes of a chunked body: NULL, or why the body is refused.
 * c->state is AR_CHUNKED_DONE after the last trailer line; c->extra is set when
 * bytes follow it. */
const char *ar_chunked_feed(ar_chunked *c, const char *data, size_t len);

#endif
