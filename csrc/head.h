/* Sans-IO parser of an HTTP/1.x response head (RFC 9112): bytes in, the status
 * and the header fields out, as pointers into the input. No Lua, no I/O.
 *
 * The input is one or more heads, each a status line, field lines and an
 * empty line; the empty line of the last head may be missing. Only the last
 * head counts: a new status line (after 100 Continue, or after a proxy's
 * answer to CONNECT) starts over. Lines end in CRLF or a bare LF. An obs-fold
 * (a line starting with SP or HTAB) continues the field above it.
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
  int status; /* 100..999 */
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

/* Fills *head from data[0..len). On failure *why is a static message. */
ar_head_result ar_head_parse(const char *data, size_t len, ar_head *head, const char **why);

#endif
