/* HTTP Digest (RFC 7616, MD5 as Atlas uses it) as a pure function: no I/O, no
 * clock, no randomness, so every transport (libcurl, nginx cosockets) shares it. */
#ifndef AR_DIGEST_H
#define AR_DIGEST_H

#include <stddef.h>

typedef struct ar_digest_input {
  const char *username, *password, *realm, *nonce, *method, *uri;
  const char *qop;        /* "auth", or NULL for the RFC 2069 form */
  const char *cnonce;     /* required with qop */
  const char *algorithm;  /* "MD5", "MD5-sess" or NULL (= MD5) */
  unsigned long nc;       /* nonce count, with qop */
} ar_digest_input;

/* Writes the lowercase hex `response` value. Returns NULL on success, else a
 * static message naming what is unsupported or missing. */
const char *ar_digest_response(const ar_digest_input *in, char response[33]);

#endif
