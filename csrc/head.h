/* Sans-IO parser of an HTTP/1.x response head (RFC 9112): bytes in, the status
 * and the header fields out, as pointers into the input. No Lua, no I/O.
 *
 * The input is one or more heads, each a status line, field lines and an
 * empty line; the empty line of the last head may be missing. Only the last
 * head counts, and only interim (1xx but 101) heads may come before it: a
 * head after a final one is malformed (a response the request did not ask
 * for). Lines end in CRLF or a bare LF (RFC 9112 2.2), as everywhere in this
 * module's framing; a CR anywhere else is malformed. An obs-fold (a line
 * starting with SP or HTAB) continues the field above it.
 *
 * Limits: AR_HEAD_MAX_BYTES of input in all (one field line may use all of
 * it) and AR_HEAD_MAX_FIELDS field lines in the last head. */
#ifndef AR_HEAD_H
#define AR_HEAD_H

#include <stddef.h>

#define AR_HEAD_MAX_BYTES (256 * 1024)
#define AR_HEAD_MAX_FIELDS 256

typedef struct ar_head_field {
  const char *name, *value; /* the value without its leading and trailing whitespace */
  size_t name_len, value_len;
  int folded; /* the value spans obs-folds: each line break and the
                 whitespace around it reads as one SP */
} ar_head_field;

typedef struct ar_head {
  int status;  /* 100..999 */
  int version; /* 10 * major + minor: 10 for HTTP/1.0, 11 for HTTP/1.1 */
  size_t count;
  ar_head_field fields[AR_HEAD_MAX_FIELDS];
} ar_head;

typedef enum ar_head_result {
  AR_HEAD_OK,
  AR_HEAD_TOO_LARGE, /* past one of the limits */
  AR_HEAD_MALFORMED
} ar_head_result;

/* tchar (RFC 9110 5.6.2): the characters of a token, such as a field name. */
int ar_head_tchar(unsigned char c);
/* Whether c is a control character that no field value may hold (CTL but HTAB:
 * CR, LF and NUL among them). */
int ar_head_ctl(unsigned char c);

/* Whether a status is an interim response's (1xx, but 101, which is final). */
int ar_head_interim(int status);

/* Fills *head from data[0..len). On failure *why is a static message. */
ar_head_result ar_head_parse(const char *data, size_t len, ar_head *head, const char **why);

#endif
