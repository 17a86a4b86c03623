/* Sans-IO tokenizer of WWW-Authenticate values (RFC 9110 11.6.1):
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * One value may hold several challenges, and a server may send one header
 * per challenge (RFC 7616 3.7: one per Digest algorithm). Items point into the
 * input; nothing is allocated. CR, LF, NUL and every other control character
 * but HTAB are refused everywhere, inside quoted-strings and escaped too.
 * No Lua, no I/O. */
#ifndef AR_CHALLENGE_H
#define AR_CHALLENGE_H

#include <stddef.h>

typedef enum ar_auth_kind {
  AR_AUTH_END,     /* no more challenges in this value */
  AR_AUTH_SCHEME,  /* a challenge starts: name = its auth-scheme */
  AR_AUTH_PARAM,   /* a parameter of the current challenge: name = value */
  AR_AUTH_TOKEN68, /* the token68 of the current challenge, in name */
  AR_AUTH_ERROR    /* malformed: see the parser's error and offset */
} ar_auth_kind;

typedef struct ar_auth_item {
  const char *name, *value;
  size_t name_len, value_len;
  int quoted; /* value is the inside of a quoted-string, escapes still in */
} ar_auth_item;

typedef struct ar_auth_parser {
  const char *start, *p, *end;
  int in_challenge; /* a scheme was read: a comma must separate what follows */
  int after_scheme; /* right after "scheme SP": a token68 may come */
  const char *error;
} ar_auth_parser;

void ar_auth_init(ar_auth_parser *ps, const char *s, size_t len);
ar_auth_kind ar_auth_next(ar_auth_parser *ps, ar_auth_item *item);
/* Byte offset in the input where the parser stands (where an error was found). */
size_t ar_auth_offset(const ar_auth_parser *ps);
/* Removes the escapes of a quoted value from ar_auth_next into out (which holds
 * len bytes); returns the unescaped length. */
size_t ar_auth_unquote(const char *raw, size_t len, char *out);

#endif
