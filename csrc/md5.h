/* MD5 (RFC 1321), needed only because HTTP Digest as Atlas speaks it is MD5. */
#ifndef AR_MD5_H
#define AR_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct ar_md5 {
  uint32_t state[4];
  uint64_t length;          /* bytes hashed so far */
  unsigned char block[64];
} ar_md5;

void ar_md5_init(ar_md5 *ctx);
void ar_md5_update(ar_md5 *ctx, const void *data, size_t len);
void ar_md5_final(ar_md5 *ctx, unsigned char digest[16]);
/* Lowercase hex of MD5(data): hex must hold 33 bytes. */
void ar_md5_hex(const void *data, size_t len, char hex[33]);

#endif
