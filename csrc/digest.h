/* HTTP Digest (RFC 7616) as a pure function: no I/O, no clock, no randomness,
 * so every transport (libcurl, nginx cosockets) shares it. */
#ifndef AR_DIGEST_H
#define AR_DIGEST_H

#include <stddef.h>

/* Room for the longest `response` (SHA-256: 64 hex digits) and its NUL. */
#define AR_DIGEST_HEX_SIZE 65

typedef struct ar_digest_input {
  const char *username, *password, *realm, *nonce, *method, *uri;
  const char *qop;       /* "auth", or NULL for the RFC 2069 form */
  const char *cnonce;    /* required with qop and with the -sess algorithms */
  const char *algorithm; /* MD5, MD5-sess, SHA-256, SHA-256-sess (any case), or NULL (= MD5) */
  unsigned long nc;      /* nonce count, with qop */
} ar_digest_input;

/* Nonzero when `algorithm` is one of the -sess variants, which hash the cnonce into HA1. */
int ar_digest_is_sess(const char *algorithm);

/* Writes the lowercase hex `response` value. Returns NULL on success, else a
 * static message naming what is unsupported or missing. */
const char *ar_digest_response(const ar_digest_input *in, char response[AR_DIGEST_HEX_SIZE]);

#endif
